// How npm start and errand dev find Redis (local-redis.ts): REDIS_URL as given, the local
// one when it answers, else a private redis-server; npm start itself: npm-start.test.ts.
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { findOrStartRedis, NoRedisError } from '../src/gateway/local-redis.js';
import { freePort } from './support/redis-server.js';
import { useRedis } from './support/fixtures.js';

const redis = useRedis();

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
