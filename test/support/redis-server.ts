/**
 * Starts and stops real `redis-server` processes for tests, on free loopback ports, each in
 * its own temporary directory. Never touches a Redis the test did not start.
 *
 * Readiness and shutdown are awaited as events (the server's "Ready to accept connections"
 * line, the process's exit), never by sleeping.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnRedisServer, stopRedisServer } from '../../src/redis/server-process.js';

export interface RedisServerOptions {
  /** Turn on the append-only file, so data survives a restart of this server. */
  appendOnly?: boolean;
  /** Extra `--name value` arguments for redis-server. */
  extraArgs?: string[];
}

export class RedisServer {
  readonly host = '127.0.0.1';
  private process: ChildProcess | undefined;
  private frozen = false;

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

  /** Frozen by SIGSTOP: it answers nothing until `resume()`. */
  get paused(): boolean {
    return this.frozen;
  }

  /** Freezes the process (SIGSTOP): a hung or partitioned server, as its peers see it. */
  async pause(): Promise<void> {
    if (!this.process || this.frozen) return;
    this.process.kill('SIGSTOP');
    this.frozen = true;
  }

  async resume(): Promise<void> {
    if (!this.process || !this.frozen) return;
    this.process.kill('SIGCONT');
    this.frozen = false;
  }

  /** Kills the server abruptly (SIGKILL), as a crash would; the data directory is kept. */
  async kill(): Promise<void> {
    if (!this.process) return;
    this.frozen = false;
    await stopRedisServer(this.process, { kill: true });
    this.process = undefined;
  }

  async stop({ keepDir = false }: { keepDir?: boolean } = {}): Promise<void> {
    await this.resume();
    if (this.process) {
      await stopRedisServer(this.process);
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
    this.process = await spawnRedisServer('redis-server', args).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new Error('could not run redis-server: install it (apt-get install redis-server)') : error;
    });
  }
}

export { freePort };
