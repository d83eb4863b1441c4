import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { findOrStartRedis, NoRedisError } from '../src/gateway/local-redis.js';
import { freePort } from './support/redis-server.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const root = fileURLToPath(new URL('..', import.meta.url));

function quietLog() {
  const lines: string[] = [];
  return { lines, log: { info: (msg: string) => void lines.push(msg), warn: (msg: string) => void lines.push(msg) } };
}

describe('finding Redis for npm start', () => {
  it('uses REDIS_URL as given', async () => {
    const { log, lines } = quietLog();
    const found = await findOrStartRedis({ url: 'redis://user:secret@redis.internal:6379', log: log as never });
    expect(found).toMatchObject({ url: 'redis://user:secret@redis.internal:6379', private: false });
    expect(lines).toEqual(['using the Redis at redis://user:***@redis.internal:6379 (REDIS_URL)']);
  });

  it('uses the local Redis when it answers', async () => {
    const { log, lines } = quietLog();
    const found = await findOrStartRedis({ probeUrl: redis.url, log: log as never });
    expect(found).toMatchObject({ url: redis.url, private: false });
    expect(lines[0]).toBe(`using the Redis at ${redis.url}`);
  });

  it('starts a private redis-server when nothing answers, says so, and stops it', async () => {
    const { log, lines } = quietLog();
    const probeUrl = `redis://127.0.0.1:${await freePort()}`;
    const found = await findOrStartRedis({ probeUrl, log: log as never });
    try {
      expect(found.private).toBe(true);
      expect(lines[0]).toMatch(new RegExp(`^no Redis answers at ${probeUrl}: started a private redis-server at redis://127\\.0\\.0\\.1:\\d+ \\(data in (\\S+), deleted on exit`));
      const client = new Redis(found.url);
      expect(await client.ping()).toBe('PONG');
      client.disconnect();
    } finally {
      await found.stop();
    }
    const dir = /data in (\S+),/.exec(lines[0]!)![1]!;
    expect(existsSync(dir)).toBe(false);
  });

  it('stops with a message saying how to get Redis when none is installed', async () => {
    const { log } = quietLog();
    const probeUrl = `redis://127.0.0.1:${await freePort()}`;
    const attempt = findOrStartRedis({ probeUrl, redisServer: 'redis-server-that-is-not-installed', log: log as never });
    await expect(attempt).rejects.toBeInstanceOf(NoRedisError);
    await expect(attempt).rejects.toThrow(/apt-get install redis-server.*REDIS_URL/);
  });
});

/** Runs the `npm start` entry from source; resolves each log line's msg through `lines`. */
function runStart(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/gateway/start.ts'], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const messages: string[] = [];
  const waiters: { match: RegExp; resolve: (msg: string) => void }[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    let msg = line;
    try {
      msg = (JSON.parse(line) as { msg: string }).msg;
    } catch {
      // not a log record: keep the raw line
    }
    messages.push(msg);
    for (const waiter of waiters.filter((w) => w.match.test(msg))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(msg);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    messages,
    exited,
    stderr: () => stderr,
    waitFor(match: RegExp): Promise<string> {
      const seen = messages.find((msg) => match.test(msg));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        void exited.then((code) => reject(new Error(`start exited (${code}) before logging ${match}:\n${messages.join('\n')}\n${stderr}`)));
      });
    },
  };
}

describe('npm start', () => {
  it('serves the demo with a worker and a subscriber, and stops cleanly on SIGTERM', async () => {
    const s = scope();
    const start = runStart({ REDIS_URL: redis.url, PORT: '0', ERRAND_PREFIX: s.prefix, HOST: '127.0.0.1' });
    s.add({ close: async () => void (start.child.exitCode === null && start.child.kill('SIGKILL')) });
    const ready = await start.waitFor(/^Errand is ready/);
    const url = /dashboard (http:\/\/\S+)\//.exec(ready)![1]!;

    for (let i = 0; i < 3; i++) {
      const reply = await fetch(`${url}/demo/prodcons`, { redirect: 'manual' });
      expect(reply.status).toBe(302);
    }
    await start.waitFor(/^Task get [0-9]$/);
    const pubsub = await fetch(`${url}/demo/pubsub`, { redirect: 'manual' });
    expect(pubsub.status).toBe(302);
    const published = await start.waitFor(/^publish task:pubsub:channel -- [0-9]$/);
    await start.waitFor(new RegExp(`^Task get ${published.slice(-1)}$`));
    expect((await fetch(`${url}/`)).status).toBe(200); // the dashboard, built by npm start
    expect((await fetch(`${url}/ui/assets/app.js`)).status).toBe(200);

    start.child.kill('SIGTERM');
    expect(await start.exited).toBe(0);
    expect(start.messages).toContain('stopped');
    expect(await s.queue('demo').counts()).toMatchObject({ completed: 3, waiting: 0, active: 0 });
  });

  it('refuses to listen beyond loopback without a token, saying why', async () => {
    const s = scope();
    const start = runStart({ REDIS_URL: redis.url, PORT: '0', ERRAND_PREFIX: s.prefix, HOST: '0.0.0.0', ERRAND_TOKEN: '' });
    s.add({ close: async () => void (start.child.exitCode === null && start.child.kill('SIGKILL')) });
    expect(await start.exited).toBe(1);
    expect(start.messages.join('\n')).toMatch(/refusing to listen on 0\.0\.0\.0 without a token/);
  });
});
