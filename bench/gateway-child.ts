/**
 * The parent's side of the gateway process: forks bench/gateway-process.ts (node with the
 * tsx loader) against the bench's Redis, waits until it listens, reads its CPU time, and
 * ends it. Every wait is bounded; a process that stops answering is killed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { GatewayChildMessage, GatewayParentMessage } from './gateway-protocol.js';
import { TSX_LOADER } from './worker-pool.js';

const SCRIPT = fileURLToPath(new URL('./gateway-process.ts', import.meta.url));
const REPLY_TIMEOUT_MS = 30_000;
/** Extra node flags for the gateway process, e.g. "--cpu-prof --cpu-prof-dir=prof" to profile it. */
const EXTRA_NODE_ARGS = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const OUTPUT_LINES_KEPT = 20;

export class GatewayProcess {
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    /** The same process's bare node:http server (bench/floor-server.ts). */
    readonly floorUrl: string,
  ) {
    child.once('exit', () => (this.exited = true));
  }

  /** Forks the process and resolves once the gateway listens. */
  static async spawn(redisUrl: string, log: (line: string) => void): Promise<GatewayProcess> {
    const child = fork(SCRIPT, [redisUrl], {
      execArgv: [...EXTRA_NODE_ARGS, '--import', TSX_LOADER],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const output: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        for (const line of chunk.split('\n').filter(Boolean)) {
          output.push(line);
          if (output.length > OUTPUT_LINES_KEPT) output.shift();
          log(`[gateway] ${line}`);
        }
      });
    }
    try {
      const listening = await reply(child, 'listening', () => `; its last output:\n  ${output.join('\n  ')}`);
      return new GatewayProcess(child, listening.url, listening.floorUrl);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  /** CPU time (user + system) the gateway process has used so far, µs. */
  async cpuUs(): Promise<number> {
    if (this.exited) throw new Error('the gateway process has exited');
    const answer = reply(this.child, 'cpu', () => '');
    this.child.send({ type: 'cpu' } satisfies GatewayParentMessage);
    return (await answer).cpuUs;
  }

  /** Asks the process to close the gateway and end, and kills it if it has not within a few seconds. */
  async exit(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.send({ type: 'exit' } satisfies GatewayParentMessage);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

/** The child's next message of type `type`, within REPLY_TIMEOUT_MS; rejects if it exits first. */
function reply<T extends GatewayChildMessage['type']>(
  child: ChildProcess,
  type: T,
  tail: () => string,
): Promise<Extract<GatewayChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: GatewayChildMessage) => {
      if (message.type !== type) return;
      done();
      resolve(message as Extract<GatewayChildMessage, { type: T }>);
    };
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`the gateway process exited (${signal ?? code})${tail()}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`the gateway process did not answer "${type}" within ${REPLY_TIMEOUT_MS} ms${tail()}`));
    }, REPLY_TIMEOUT_MS);
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}
