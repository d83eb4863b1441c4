/**
 * A Sentinel-managed Redis (`redis+sentinel://`) failing over under load: the master is
 * killed (SIGKILL), the Sentinel promotes the replica, and producers and workers follow it
 * by themselves. With durability, no acknowledged task is lost; every awaited result is
 * its own task's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue, RedisUnavailableError, ReplicationTimeoutError, TaskNotFoundError, ValidationError, Worker } from '../src/index.js';
import { uniquePrefix } from './support/fixtures.js';
import { RedisSentinel } from './support/redis-sentinel.js';

let sentinel: RedisSentinel;
beforeAll(async () => {
  sentinel = await RedisSentinel.start();
}, 60_000);
afterAll(async () => {
  await sentinel?.stop();
});

describe('Redis Sentinel', () => {
  it('rides through a failover of the master under load: nothing acknowledged is lost', async () => {
    const prefix = uniquePrefix();
    const connection = `${sentinel.url}?failoverMs=20000`;
    const durability = { replicas: 1, timeoutMs: 1_000 };
    const queue = new Queue<number, number>('steady', { connection, prefix, durability });
    const worker = new Worker<number, number>('steady', async (task) => task.payload * 2, {
      connection,
      prefix,
      concurrency: 20,
      durability,
    });
    await queue.configure({ retention: { completed: { count: 10_000 } } });
    worker.on('error', () => {}); // the failover, and WAITs while no replica is back
    // Until the old master rejoins as a replica, every durable write waits its WAIT out
    // (1 s): on a loaded machine the tasks after the kill take minutes, hence the timeouts.
    const acknowledged: string[] = [];
    const writtenOnly: string[] = [];
    const mayBeLost: Promise<unknown>[] = [];
    let unknown = 0;
    const results: Promise<unknown>[] = [];
    const master = await sentinel.master();
    let rejoined: Promise<void> | undefined;
    try {
      for (let payload = 0; payload < 1_000; payload += 20) {
        let ids: string[];
        try {
          ids = (await queue.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ payload: payload + i })))).map((task) => task.id);
        } catch (error) {
          // In flight when the connection went (the kill, or Sentinel dropping the clients of
          // the master it promotes): the outcome is unknown, and nothing was acknowledged.
          if (error instanceof RedisUnavailableError) {
            unknown++;
            continue;
          }
          if (!(error instanceof ReplicationTimeoutError)) throw error;
          // The new master had no replica yet: written, not replicated in time. Such a write
          // stands on the primary, but a failover can still lose it (docs/semantics.md): if
          // Sentinel fails over again while the old master rejoins, it is lost, and says so.
          error.written.forEach((id, i) => {
            writtenOnly.push(id);
            mayBeLost.push(
              queue
                .task(id)
                .result({ timeoutMs: 150_000 })
                .then((value) => expect(value).toBe((payload + i) * 2), (lost: Error) => expect(lost).toBeInstanceOf(TaskNotFoundError)),
            );
          });
          ids = [];
        }
        ids.forEach((id, i) => {
          acknowledged.push(id);
          results.push(queue.task(id).result({ timeoutMs: 150_000 }).then((value) => expect(value).toBe((payload + i) * 2)));
        });
        if (!rejoined && acknowledged.length + writtenOnly.length >= 300) {
          await master.kill();
          rejoined = sentinel.waitForFailover(master).then(() => sentinel.rejoin(master));
        }
      }
      // Every enqueue acknowledged as replicated completed; written-only ones completed or were lost.
      const outcomes = await Promise.allSettled([...results, ...mayBeLost]);
      expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
      expect(acknowledged.length).toBeGreaterThan(0);
      expect(new Set([...acknowledged, ...writtenOnly]).size).toBe(acknowledged.length + writtenOnly.length);
      // Batches whose outcome was unknown may have been written (then they ran too): at most 20 tasks each.
      const counts = await queue.counts();
      expect(counts).toMatchObject({ waiting: 0, delayed: 0, failed: 0 });
      expect(counts.completed).toBeGreaterThanOrEqual(acknowledged.length);
      expect(counts.completed).toBeLessThanOrEqual(acknowledged.length + writtenOnly.length + unknown * 20);
      expect(await sentinel.master()).not.toBe(master);
    } finally {
      await worker.close({ timeoutMs: 5_000 });
      await queue.close();
      await rejoined;
    }
  }, 240_000);

  it('refuses a sentinel URL without a master name, and a bad failoverMs, naming the fix', () => {
    expect(() => new Queue('q', { connection: 'redis+sentinel://127.0.0.1:26379' })).toThrow(ValidationError);
    expect(() => new Queue('q', { connection: 'redis+sentinel://127.0.0.1:26379' })).toThrow(/names the master/);
    expect(() => new Queue('q', { connection: `${sentinel.url}?failoverMs=soon` })).toThrow(/failoverMs/);
  });
});
