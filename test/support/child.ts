/**
 * Runs a test fixture (test/fixtures/*.ts) in its own Node process, to be killed with
 * SIGKILL the way a crash would. Lines it prints can be awaited; the process is killed
 * when the test's scope closes, if the test did not kill it first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export class Child {
  readonly lines: string[] = [];
  private readonly process: ChildProcess;
  private readonly exited: Promise<void>;
  private waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  private stderr = '';

  constructor(fixture: string, args: string[]) {
    const path = fileURLToPath(new URL(`../fixtures/${fixture}`, import.meta.url));
    this.process = spawn(process.execPath, ['--import', 'tsx', path, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.process.once('exit', () => resolve()));
    let buffer = '';
    this.process.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        this.lines.push(line);
        this.waiters = this.waiters.filter((waiter) => !(waiter.test(line) && (waiter.resolve(line), true)));
      }
    });
    this.process.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  /** Resolves with the first printed line (already printed or to come) that passes `test`. */
  line(test: (line: string) => boolean): Promise<string> {
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.waiters.push({ test, resolve });
      void this.exited.then(() => reject(new Error(`fixture exited before printing the awaited line; stderr:\n${this.stderr}`)));
    });
  }

  /** Kills it abruptly and waits for it to be gone. */
  async kill(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL');
    await this.exited;
  }

  close(): Promise<void> {
    return this.kill();
  }
}
