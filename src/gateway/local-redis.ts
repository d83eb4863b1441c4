/**
 * Finds the Redis that `npm start` uses: REDIS_URL when set; else the local one on
 * 127.0.0.1:6379 when it answers; else a private `redis-server` started on a free loopback
 * port in a temporary directory (said in the log, stopped and deleted on exit); else a
 * stop with a message saying how to get Redis.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import { redactUrl } from '../redis/redact.js';
import { freePort, spawnRedisServer, stopRedisServer } from '../redis/server-process.js';

export const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

export interface RedisForStart {
  url: string;
  /** True when we started it (and `stop` ends it). */
  private: boolean;
  stop(): Promise<void>;
}

export interface FindRedisOptions {
  /** REDIS_URL: used as is, without probing. */
  url?: string | undefined;
  /** The Redis to try before starting one. Default redis://127.0.0.1:6379. */
  probeUrl?: string;
  /** The redis-server program. Default 'redis-server' from PATH. */
  redisServer?: string;
  log: Pick<FastifyBaseLogger, 'info' | 'warn'>;
}

export class NoRedisError extends Error {
  constructor(probeUrl: string, redisServer: string) {
    super(
      `no Redis answers at ${redactUrl(probeUrl)} and "${redisServer}" is not installed. Install Redis ` +
        '(Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), ' +
        'start one, or point REDIS_URL at yours (REDIS_URL=redis://host:6379 npm start)',
    );
    this.name = 'NoRedisError';
  }
}

export async function findOrStartRedis(options: FindRedisOptions): Promise<RedisForStart> {
  const none = async () => {};
  if (options.url) {
    options.log.info(`using the Redis at ${redactUrl(options.url)} (REDIS_URL)`);
    return { url: options.url, private: false, stop: none };
  }
  const probeUrl = options.probeUrl ?? LOCAL_REDIS_URL;
  if (await answers(probeUrl)) {
    options.log.info(`using the Redis at ${redactUrl(probeUrl)}`);
    return { url: probeUrl, private: false, stop: none };
  }
  const server = await startPrivateRedis(options.redisServer ?? 'redis-server', probeUrl);
  options.log.info(
    `no Redis answers at ${redactUrl(probeUrl)}: started a private redis-server at ${server.url} ` +
      `(data in ${server.dir}, deleted on exit; set REDIS_URL to use another Redis)`,
  );
  server.process.once('exit', (code, signal) => {
    if (!server.stopping) options.log.warn(`the private redis-server exited (${signal ?? code}): requests now get 503`);
  });
  return { url: server.url, private: true, stop: () => server.stop() };
}

/** Whether a Redis answers PING at `url` within half a second. */
async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {}); // the answer is the boolean
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

interface PrivateRedis {
  url: string;
  dir: string;
  process: ChildProcess;
  stopping: boolean;
  stop(): Promise<void>;
}

async function startPrivateRedis(program: string, probeUrl: string): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'errand-start-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
  let child: ChildProcess;
  try {
    child = await spawnRedisServer(program, args).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new NoRedisError(probeUrl, program) : error;
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const server: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    dir,
    process: child,
    stopping: false,
    async stop() {
      server.stopping = true;
      await stopRedisServer(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
