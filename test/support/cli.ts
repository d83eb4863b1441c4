/**
 * Runs the real `errand` CLI in child processes for tests: from the TypeScript source
 * through tsx, against the test file's Redis (REDIS_URL) and the test's key prefix.
 *
 * Output and exits are awaited as events: `run` resolves when the process exits, a started
 * process offers `waitFor(condition)`, checked on every chunk of output. Every process a
 * test started is killed (SIGKILL) after it, if it is still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = 'src/cli/main.ts';
const BIN = 'bin/errand.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Written to stdin, which is then closed (stdin is always closed, empty by default). */
  input?: string;
  env?: Record<string, string | undefined>;
  /** Run through the `bin/errand.js` launcher (plain Node; the build if there is one). */
  viaBin?: boolean;
}

export class CliProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<CliResult>;
  private readonly checks = new Set<() => void>();
  private result: CliResult | undefined;

  constructor(args: readonly string[], env: Record<string, string | undefined>, { input = '', viaBin = false }: CliOptions = {}) {
    const entry = viaBin ? [BIN] : ['--import', 'tsx', MAIN];
    this.child = spawn(process.execPath, [...entry, ...args], {
      cwd: ROOT,
      env: Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined)),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
      this.runChecks();
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      this.runChecks();
    });
    this.child.stdin!.end(input);
    this.exited = new Promise((resolve, reject) => {
      this.child.once('error', reject);
      this.child.once('close', (code, signal) => {
        this.result = { code, signal, stdout: this.stdout, stderr: this.stderr };
        this.runChecks();
        resolve(this.result);
      });
    });
  }

  /** Complete stdout lines so far. */
  get lines(): string[] {
    return this.stdout.split('\n').slice(0, -1);
  }

  /** Stdout lines parsed as JSON (the worker's log when stdout is not a terminal). */
  get records(): Record<string, unknown>[] {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Resolves once `condition()` holds; rejects if the process exits before it does. */
  waitFor(condition: () => boolean, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (condition()) {
          this.checks.delete(check);
          resolve();
        } else if (this.result) {
          this.checks.delete(check);
          reject(new Error(`errand exited (${this.result.code ?? this.result.signal}) before ${what}:\n${this.stdout}\n${this.stderr}`));
        }
      };
      this.checks.add(check);
      check();
    });
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  private runChecks(): void {
    for (const check of [...this.checks]) check();
  }
}

export interface CliFixture {
  /** Runs `errand <args>` to its end. */
  run(args: readonly string[], options?: CliOptions): Promise<CliResult>;
  /** Starts `errand <args>` and returns at once. */
  start(args: readonly string[], options?: CliOptions): CliProcess;
}

/**
 * CLI runner for a test file. `target()` names the Redis (URL) and key prefix of the
 * current test; without it, REDIS_URL points at a port where nothing listens, so a test
 * that should not reach Redis never reaches one.
 */
export function useCli(target: () => { url: string; prefix: string } = () => ({ url: 'redis://127.0.0.1:1', prefix: 'unused' })): CliFixture {
  const running = new Set<CliProcess>();
  afterEach(async () => {
    const processes = [...running];
    running.clear();
    for (const cli of processes) {
      if (cli.child.exitCode !== null || cli.child.signalCode !== null) continue;
      // Still running after its test: say what it last printed, to explain a timeout.
      console.warn(`killing errand still running after the test; its output ended with:\n${cli.stdout.slice(-1000)}\n${cli.stderr.slice(-1000)}`);
      cli.kill('SIGKILL');
    }
    await Promise.all(processes.map((cli) => cli.exited.catch(() => undefined)));
  });
  const start = (args: readonly string[], options: CliOptions = {}) => {
    // Started by the test, not by npm: without the npm_lifecycle_event that `npm test` sets,
    // which tells a command it runs under npm (stop-signal.ts).
    const env = { ...process.env, npm_lifecycle_event: undefined, REDIS_URL: target().url, ERRAND_PREFIX: target().prefix, ERRAND_LOG_LEVEL: undefined, ...options.env };
    const cli = new CliProcess(args, env, options);
    running.add(cli);
    return cli;
  };
  return {
    start,
    run: (args, options) => start(args, options).exited,
  };
}

/**
 * The single line an error leaves on stderr, checked to be single and stack-free (and,
 * unless `anyStdout`, with nothing on stdout).
 */
export function oneLine(result: CliResult, { anyStdout = false }: { anyStdout?: boolean } = {}): string {
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  if (!anyStdout) expect(result.stdout).toBe('');
  return lines[0]!;
}
