// errand/testing: the throwaway redis-server (and the error when the binary is missing),
// isolated prefixes, drain() beside a running worker, runUntilIdle() with inline handlers
// returning what ran (failures and retries included), and the bounded wait.
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue, Worker } from '../src/index.js';
import { drain, RedisServerMissingError, runUntilIdle, startRedis, testPrefix, type TestRedis } from '../src/testing/index.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.stop());

describe('startRedis', () => {
  it('runs a real redis-server on a free loopback port and stops it', async () => {
    const other = await startRedis();
    expect(other.url).toBe(`redis://127.0.0.1:${other.port}`);
    expect(other.port).not.toBe(redis.port);
    const client = new Redis(other.url);
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
    await other.stop();
    await other.stop(); // idempotent
    const refused = await new Promise<string | undefined>((resolve) => {
      const socket = connect(other.port, '127.0.0.1', () => resolve(socket.destroy() && undefined));
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('names what to install when redis-server is missing', async () => {
    const attempt = startRedis({ program: 'redis-server-not-installed' });
    await expect(attempt).rejects.toBeInstanceOf(RedisServerMissingError);
    await expect(attempt).rejects.toThrow(/"redis-server-not-installed" is not installed.*apt-get install redis-server.*brew install redis/);
  });

  it('gives each test prefix of its own', () => {
    const prefixes = new Set(Array.from({ length: 100 }, () => testPrefix()));
    expect(prefixes.size).toBe(100);
    for (const prefix of prefixes) expect(prefix).toMatch(/^t[0-9a-f]{8}$/);
  });
});

describe('runUntilIdle', () => {
  it('runs every due task inline and returns what ran, failures included, in the order they started', async () => {
    const prefix = testPrefix();
    const queue = new Queue<number>('numbers', { connection: redis.url, prefix });
    await queue.enqueueMany([{ payload: 1 }, { payload: 2, attempts: 2, backoff: { type: 'fixed', delayMs: 0 } }, { payload: 3 }]);
    await queue.enqueue(4, { delayMs: 60_000 }); // not due: left alone
    const ran = await runUntilIdle({
      connection: redis.url,
      prefix,
      handlers: {
        numbers: async (task) => {
          if (task.payload === 2) throw new Error(`attempt ${task.attempt} of 2 fails`);
          return task.payload * 10;
        },
      },
    });
    expect(ran.map((task) => [task.payload, task.state, task.result ?? task.error?.message])).toEqual([
      [1, 'completed', 10],
      [2, 'failed', 'attempt 2 of 2 fails'],
      [3, 'completed', 30],
    ]);
    expect(ran[1]!.attempts).toHaveLength(2);
    expect(await queue.counts()).toMatchObject({ waiting: 0, active: 0, delayed: 1, completed: 2, failed: 1 });
    await queue.close();
  });

  it('leaves other prefixes alone', async () => {
    const mine = testPrefix();
    const theirs = new Queue('shared', { connection: redis.url, prefix: testPrefix() });
    await theirs.enqueue('not mine');
    const ran = await runUntilIdle({ connection: redis.url, prefix: mine, handlers: { shared: async () => 'ran' } });
    expect(ran).toEqual([]);
    expect(await theirs.counts()).toMatchObject({ waiting: 1 });
    await theirs.close();
  });

  it('refuses an empty handler map', async () => {
    await expect(runUntilIdle({ connection: redis.url, handlers: {} })).rejects.toThrow(/runUntilIdle needs handlers/);
    await expect(runUntilIdle({ connection: redis.url, handlers: { q: async () => 1 }, timeoutMs: -1 })).rejects.toThrow(/timeoutMs must be a whole number/);
  });
});

describe('drain', () => {
  it('waits for the workers already running and returns the finished tasks', async () => {
    const prefix = testPrefix();
    const queue = new Queue<string, string>('upper', { connection: redis.url, prefix });
    const worker = new Worker<string, string>('upper', async (task) => task.payload.toUpperCase(), { connection: redis.url, prefix, concurrency: 5 });
    await queue.enqueueMany(['a', 'b', 'c'].map((payload) => ({ payload })));
    const ran = await drain(queue);
    expect(ran.map((task) => task.result).sort()).toEqual(['A', 'B', 'C']);
    expect(await queue.counts()).toMatchObject({ waiting: 0, active: 0, completed: 3 });
    await worker.close();
    await queue.close();
  });

  it('gives up after timeoutMs when no worker runs, saying what is left', async () => {
    const queue = new Queue('nobody', { connection: redis.url, prefix: testPrefix() });
    await queue.enqueue(1);
    await expect(drain(queue, { timeoutMs: 300 })).rejects.toThrow(/^not idle after 300 ms: queue "nobody": 1 waiting, 0 active, no delayed task due \(is a worker running/);
    await queue.close();
  });
});
