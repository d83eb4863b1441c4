/**
 * One thread or child process that runs handlers for an isolation pool (pool.ts): starting
 * it on runtime.ts with its limits, passing messages both ways, ending it (terminate()
 * stops even a handler stuck in `while (true) {}`), and saying how it ended: terminated
 * by the worker, out of memory, killed by a signal, or exited by itself.
 *
 * Threads start in a few ms and share the worker's process (a crash of native code takes
 * everything down); processes take tens of ms and a few tens of MB each, and nothing a
 * handler does can harm the worker. Both get `memoryLimitMb` as V8's old-generation limit
 * (memory outside V8's heap, such as Buffers, is not counted).
 *
 * Neither inherits the worker's Node flags (a loader the worker was started with would be
 * loaded again by every one of them, at a cost of its own): they get only the flags Errand
 * sets. When the runtime or the handler module is TypeScript (running Errand from its
 * sources, or a .ts handler), the thread or process loads it through tsx, which must be
 * installed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker as Thread } from 'node:worker_threads';
import { ValidationError } from '../../errors.js';
import type { FromRuntime, ToRuntime } from './protocol.js';

export type IsolationKind = 'thread' | 'process';

/** Runs from dist/ as .js, from the sources (tsx, vitest) as .ts. */
const RUNTIME = new URL(`./runtime${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
const TYPESCRIPT = /\.[mc]?tsx?$/;

/** How an executor ended. */
export interface ExitInfo {
  /** The pool ended it (timeout, abort, close). */
  terminated: boolean;
  /** V8's heap limit (memoryLimitMb) was reached. */
  outOfMemory: boolean;
  code: number | null;
  signal: string | null;
  /** A thread's uncaught error (thrown outside the handler's promise). */
  error: Error | undefined;
}

export interface ExecutorOptions {
  kind: IsolationKind;
  handler: URL;
  memoryLimitMb: number | undefined;
  onMessage(message: FromRuntime): void;
  onExit(info: ExitInfo): void;
}

let tsxUrls: { loader: string; api: string } | undefined;

/** tsx's loader (for a process's --import) and its register API (for a thread), by URL. */
function tsx(what: string): { loader: string; api: string } {
  if (tsxUrls) return tsxUrls;
  try {
    const require = createRequire(import.meta.url);
    const manifest = require.resolve('tsx/package.json');
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, string | { import: { default: string } }> };
    const api = pkg.exports['./esm/api'] as { import: { default: string } };
    tsxUrls = { loader: pathToFileURL(require.resolve('tsx')).href, api: pathToFileURL(join(dirname(manifest), api.import.default)).href };
    return tsxUrls;
  } catch (error) {
    throw new ValidationError(`${what} is TypeScript, which isolated handlers load through tsx: install it (npm install --save-dev tsx) or give a compiled .js module`, { cause: error });
  }
}

export class Executor {
  private readonly thread: Thread | undefined;
  private readonly child: ChildProcess | undefined;
  private terminated = false;
  private outOfMemory = false;
  private error: Error | undefined;
  private exited = false;
  readonly gone: Promise<void>;

  constructor(private readonly options: ExecutorOptions) {
    const typescript = TYPESCRIPT.test(RUNTIME.pathname) || TYPESCRIPT.test(options.handler.pathname);
    const loaders = typescript ? tsx(TYPESCRIPT.test(options.handler.pathname) ? `handler module ${options.handler.href}` : 'Errand (run from its sources)') : undefined;
    let resolveGone!: () => void;
    this.gone = new Promise((resolve) => (resolveGone = resolve));
    const onExit = (code: number | null, signal: string | null) => {
      this.exited = true;
      options.onExit({ terminated: this.terminated, outOfMemory: this.outOfMemory, code, signal, error: this.error });
      resolveGone();
    };
    if (options.kind === 'thread') {
      const resourceLimits = options.memoryLimitMb ? { maxOldGenerationSizeMb: options.memoryLimitMb } : undefined;
      // A thread ignores --import: tsx is registered by a bootstrap that then loads the runtime.
      const threadOptions = { execArgv: [], ...(resourceLimits ? { resourceLimits } : {}) };
      const thread = loaders
        ? new Thread(`import(${JSON.stringify(loaders.api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(RUNTIME.href)}); })`, {
            eval: true,
            ...threadOptions,
          })
        : new Thread(RUNTIME, threadOptions);
      thread.on('message', (message: FromRuntime) => options.onMessage(message));
      thread.on('error', (error: Error & { code?: string }) => {
        if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') this.outOfMemory = true;
        else this.error = error;
      });
      thread.on('exit', (code) => onExit(code, null));
      this.thread = thread;
    } else {
      const execArgv = [...(loaders ? ['--import', loaders.loader] : []), ...(options.memoryLimitMb ? [`--max-old-space-size=${options.memoryLimitMb}`] : [])];
      // 'advanced' serialization: JSON text crosses as a string, not escaped into more JSON.
      const child = fork(fileURLToPath(RUNTIME), [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
      child.on('message', (message: FromRuntime) => options.onMessage(message));
      child.stderr!.on('data', (chunk: Buffer) => {
        // V8 reports a heap limit on stderr before it aborts the process.
        if (options.memoryLimitMb && chunk.includes('heap out of memory')) this.outOfMemory = true;
        process.stderr.write(chunk);
      });
      child.on('error', (error) => (this.error ??= error));
      child.on('exit', onExit);
      this.child = child;
    }
  }

  send(message: ToRuntime): void {
    if (this.exited) return;
    if (this.thread) this.thread.postMessage(message);
    else if (this.child?.connected) this.child.send(message);
  }

  /** Ends it now, whatever it runs. `gone` resolves once it has. */
  terminate(): void {
    if (this.exited || this.terminated) return;
    this.terminated = true;
    if (this.thread) void this.thread.terminate();
    else this.child?.kill('SIGKILL');
  }

  /** Its process id (processes only): for operators, and tests that kill it from outside. */
  get pid(): number | undefined {
    return this.child?.pid;
  }
}
