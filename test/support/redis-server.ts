/**
 * Starts and stops real `redis-server` processes for tests, on free loopback ports, each in
 * its own temporary directory. Never touches a Redis the test did not start.
 *
 * Readiness and shutdown are awaited as events (the server's "Ready to accept connections"
 * line, the process's exit), never by sleeping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServerOptions {
  /** Turn on the append-only file, so data survives a restart of this server. */
  appendOnly?: boolean;
  /** Extra `--name value` arguments for redis-server. */
  extraArgs?: string[];
}

export class RedisServer {
  readonly host = '127.0.0.1';
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly options: RedisServerOptions,
  ) {}

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'errand-redis-'));
    const server = new RedisServer(port, dir, options);
    await server.launch();
    return server;
  }

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  get running(): boolean {
    return this.process !== undefined;
  }

  /** Starts the server again on the same port and directory (after `kill` or `stop`). */
  async restart(): Promise<void> {
    if (this.process) await this.stop({ keepDir: true });
    await this.launch();
  }

  /** Kills the server abruptly (SIGKILL), as a crash would; the data directory is kept. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child) return;
    const exited = onceExit(child);
    child.kill('SIGKILL');
    await exited;
    this.process = undefined;
  }

  async stop({ keepDir = false }: { keepDir?: boolean } = {}): Promise<void> {
    const child = this.process;
    if (child) {
      const exited = onceExit(child);
      child.kill('SIGTERM');
      await exited;
      this.process = undefined;
    }
    if (!keepDir) rmSync(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    const args = [
      '--port', String(this.port),
      '--bind', this.host,
      '--dir', this.dir,
      '--save', '',
      '--appendonly', this.options.appendOnly ? 'yes' : 'no',
      '--appendfsync', 'always',
      '--daemonize', 'no',
      '--loglevel', 'notice',
      ...(this.options.extraArgs ?? []),
    ];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          child.stdout?.off('data', onData);
          child.stdout?.resume();
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('error', (error) =>
        reject(new Error(`could not run redis-server (install it: apt-get install redis-server): ${error.message}`)),
      );
      child.once('exit', (code) => reject(new Error(`redis-server exited with ${code} before it was ready:\n${output}`)));
    });
  }
}

function onceExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** A port that was free a moment ago on the loopback interface. */
export async function freePort(): Promise<number> {
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
