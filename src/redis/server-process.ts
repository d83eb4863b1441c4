/**
 * Runs a `redis-server` process: picks a free loopback port, starts the server and
 * resolves once it says it accepts connections (an event, not a timer), stops it.
 * Used by `npm start` for its private Redis and by the test harness.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A port that was free a moment ago on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Spawns `program` with `args` (which should include --port and --daemonize no) and
 * resolves with the process once it is ready. Rejects with the spawn error (ENOENT when
 * the program is missing) or with its output if it exits first.
 */
export function spawnRedisServer(program: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume(); // keep draining, or a chatty server blocks on a full pipe
        child.off('exit', onExit);
        resolve(child);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`${program} exited with ${code} before it was ready:\n${output}`));
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', onExit);
  });
}

/** Stops a server process (SIGTERM, or SIGKILL when `kill`) and resolves once it exited. */
export async function stopRedisServer(child: ChildProcess, { kill = false }: { kill?: boolean } = {}): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(kill ? 'SIGKILL' : 'SIGTERM');
  await exited;
}
