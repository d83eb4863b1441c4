/**
 * The parent's side of the worker processes: forks one per system (node with the tsx
 * loader, so TypeScript runs as is, however the bench was launched), sends it start/stop commands and
 * awaits its replies, each bounded in time. A process that stops answering is killed and
 * replaced, so one bad run cannot stall the rest of the bench.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SystemName } from './systems/types.js';
import type { ChildMessage, DoneTiming, ParentMessage, StartCommand, WorkerReport } from './worker-protocol.js';

const SCRIPT = fileURLToPath(new URL('./worker-process.ts', import.meta.url));
/** tsx's loader by absolute URL, so the child finds it whatever its working directory. */
export const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const REPLY_TIMEOUT_MS = 30_000;
/** Extra node flags for the worker processes, e.g. "--cpu-prof --cpu-prof-dir=prof" to profile them. */
const EXTRA_NODE_ARGS = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const OUTPUT_LINES_KEPT = 20;

type Reply = Exclude<ChildMessage, { type: 'done' }>;

export class WorkerProcess {
  private pending: { resolve(message: Reply): void; reject(error: Error): void } | undefined;
  private doneWaiter: { resolve(timing: DoneTiming): void; reject(error: Error): void } | undefined;
  private doneTiming: DoneTiming | undefined;
  private exited = false;
  private readonly output: string[] = [];

  private constructor(
    readonly system: SystemName,
    private readonly child: ChildProcess,
    private readonly log: (line: string) => void,
  ) {
    child.on('message', (message: ChildMessage) => this.onMessage(message));
    child.on('exit', (code, signal) => {
      this.exited = true;
      const error = new Error(`the ${system} worker process exited (${signal ?? code})${this.tail()}`);
      this.pending?.reject(error);
      this.doneWaiter?.reject(error);
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        for (const line of chunk.split('\n').filter(Boolean)) {
          this.output.push(line);
          if (this.output.length > OUTPUT_LINES_KEPT) this.output.shift();
          this.log(`[${system} worker] ${line}`);
        }
      });
    }
  }

  /** Forks the process and waits until it has loaded its library. */
  static async spawn(system: SystemName, log: (line: string) => void): Promise<WorkerProcess> {
    const child = fork(SCRIPT, [system], { execArgv: [...EXTRA_NODE_ARGS, '--import', TSX_LOADER], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const worker = new WorkerProcess(system, child, log);
    await worker.request(undefined, 'ready');
    return worker;
  }

  /** Starts a worker in the process; resolves once it is constructed. */
  async start(command: Omit<StartCommand, 'type'>): Promise<void> {
    this.doneTiming = undefined;
    await this.request({ type: 'start', ...command }, 'started');
  }

  /** Resolves with the times from worker construction to its first start and `expect`-th completion. */
  waitDone(timeoutMs: number): Promise<DoneTiming> {
    if (this.doneTiming !== undefined) return Promise.resolve(this.doneTiming);
    return new Promise<DoneTiming>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.doneWaiter = undefined;
        reject(new Error(`the ${this.system} worker did not complete its tasks within ${timeoutMs} ms`));
      }, timeoutMs);
      this.doneWaiter = {
        resolve: (timing) => {
          clearTimeout(timer);
          resolve(timing);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  /** Closes the running worker gracefully and returns what it saw. */
  async stop(): Promise<WorkerReport> {
    const reply = await this.request({ type: 'stop' }, 'stopped');
    if (reply.type !== 'stopped') throw new Error(`unexpected reply ${reply.type}`);
    return reply.report;
  }

  /** Asks the process to end, and kills it if it has not within a few seconds. */
  async exit(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.send({ type: 'exit' } satisfies ParentMessage);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  private onMessage(message: ChildMessage): void {
    if (message.type === 'done') {
      this.doneTiming = { elapsedMs: message.elapsedMs, firstStartMs: message.firstStartMs, firstStartUs: message.firstStartUs };
      this.doneWaiter?.resolve(this.doneTiming);
      this.doneWaiter = undefined;
      return;
    }
    const pending = this.pending;
    this.pending = undefined;
    if (!pending) return;
    if (message.type === 'failed') pending.reject(new Error(`${this.system} worker: ${message.message}`));
    else pending.resolve(message);
  }

  private request(message: ParentMessage | undefined, expected: Reply['type']): Promise<Reply> {
    if (this.exited) return Promise.reject(new Error(`the ${this.system} worker process has exited${this.tail()}`));
    if (this.pending) return Promise.reject(new Error(`the ${this.system} worker process is busy with another command`));
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(new Error(`the ${this.system} worker process did not answer "${message?.type ?? 'ready'}" within ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
      this.pending = {
        resolve: (reply) => {
          clearTimeout(timer);
          if (reply.type === expected) resolve(reply);
          else reject(new Error(`the ${this.system} worker process answered "${reply.type}" instead of "${expected}"`));
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      if (message) this.child.send(message);
    });
  }

  private tail(): string {
    return this.output.length ? `; its last output:\n  ${this.output.join('\n  ')}` : '';
  }
}
