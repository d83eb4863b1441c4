import { describe, expect, it } from 'vitest';
import { deferred, next, useRedis, useScope } from './support/fixtures.js';

// Append-only file on (fsync always), so a killed server comes back with every write.
const redis = useRedis({ appendOnly: true });
const scope = useScope(redis);

describe('a Redis restart mid-run', () => {
  it('workers reconnect and resume on their own; every task completes', async () => {
    const s = scope();
    s.expectErrors(); // the workers report the outage; that is their job
    const total = 600;
    const queue = s.queue<number, number>('restart');
    await queue.configure({ retention: { completed: { count: 10_000 } } });
    const tasks = await queue.enqueueMany(Array.from({ length: total }, (_, i) => ({ payload: i, attempts: 10 })));
    let completed = 0;
    // Tasks past the first third wait for the restart, so leases are held across it.
    const restarted = deferred();
    const reachedHalf = new Promise<void>((resolve) => {
      const onCompleted = () => {
        if (++completed === total / 3) resolve();
      };
      for (let i = 0; i < 2; i++) {
        const worker = s.worker<number, number>('restart', async (task) => {
          if (task.payload >= total / 3) await restarted.promise;
          return task.payload + 1;
        }, {
          concurrency: 10,
          leaseMs: 1_000,
        });
        worker.on('completed', onCompleted);
      }
    });
    await reachedHalf;
    expect((await queue.counts()).active).toBeGreaterThan(0); // leases are held across the outage
    await redis.server.kill();
    await redis.server.restart();
    restarted.resolve();

    const results = await Promise.all(tasks.map((task) => task.result({ timeoutMs: 60_000 })));
    expect(results).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(await queue.counts()).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0, completed: total });
  });
});

describe('a longer outage', () => {
  it('workers wait through it, report it, and resume when Redis is back', async () => {
    const s = scope();
    s.expectErrors();
    const queue = s.queue<number, number>('outage');
    const worker = s.worker<number, number>('outage', async (task) => task.payload * 10, { leaseMs: 2_000 });
    const first = await queue.enqueue(1);
    await expect(first.result({ timeoutMs: 5_000 })).resolves.toBe(10);

    await redis.server.kill();
    await next(worker, 'error'); // it noticed: reconnects are being refused
    await redis.server.restart();

    const second = await queue.enqueue(2);
    await expect(second.result({ timeoutMs: 10_000 })).resolves.toBe(20);
  });
});
