/**
 * A throwaway real `redis-server` for tests (errand/testing): started on a free loopback
 * port in its own temporary directory, with persistence off, awaited until it accepts
 * connections (an event, not a timer), and stopped and deleted by `stop()`. It never
 * touches another Redis. A missing binary is one error naming what to install.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnRedisServer, stopRedisServer } from '../redis/server-process.js';

export interface TestRedisOptions {
  /** The redis-server program. Default: `redis-server` from PATH. */
  program?: string;
  /** Extra arguments, e.g. ['--maxmemory', '64mb']. */
  args?: string[];
}

export interface TestRedis {
  /** redis://127.0.0.1:<port>, for `connection`. */
  readonly url: string;
  readonly port: number;
  /** Stops the server and deletes its directory. Idempotent. */
  stop(): Promise<void>;
}

export class RedisServerMissingError extends Error {
  constructor(program: string) {
    super(
      `errand/testing runs a real Redis, and "${program}" is not installed (or not on PATH): ` +
        'install Redis 7 (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis; ' +
        'CI images: the redis-server package), or give its path as { program }',
    );
    this.name = 'RedisServerMissingError';
  }
}

/** Starts a redis-server on a free loopback port; resolves once it accepts connections. */
export async function startRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const program = options.program ?? 'redis-server';
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'errand-testing-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...(options.args ?? [])];
  let child;
  try {
    child = await spawnRedisServer(program, args);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw (error as NodeJS.ErrnoException).code === 'ENOENT' ? new RedisServerMissingError(program) : error;
  }
  let stopping: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () =>
      (stopping ??= stopRedisServer(child).then(() => rmSync(dir, { recursive: true, force: true }))),
  };
}

/** A key prefix no other test uses (`t` and 8 hex digits): pass it as `prefix` to isolate a test's queues. */
export function testPrefix(): string {
  return `t${randomUUID().slice(0, 8)}`;
}
