/**
 * The wake marker: idle workers block on it, so it must be set whenever work may be
 * waiting, and gone once a claim has taken everything (or the claimant, blocking next,
 * would wake at once for work it already holds and spend a claim on nothing).
 */
import { describe, expect, it } from 'vitest';
import { QueueKeys } from '../src/redis/keys.js';
import { claimByHand } from './support/by-hand.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

describe('the wake marker', () => {
  it('is set by enqueue, kept by a claim that leaves work, and removed by one that takes the rest', async () => {
    const s = scope();
    const queue = s.queue<number>('marker');
    const keys = new QueueKeys(s.prefix, 'marker');
    await queue.enqueueMany([{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
    expect(await s.client().exists(keys.wake)).toBe(1);

    expect(await claimByHand(queue, 2)).toHaveLength(2);
    expect(await s.client().exists(keys.wake)).toBe(1); // one task still waits: another worker may take it

    expect(await claimByHand(queue, 5)).toHaveLength(1);
    expect(await s.client().exists(keys.wake)).toBe(0);
    expect(await queue.counts()).toMatchObject({ waiting: 0, active: 3 });
  });

  it('an idle worker still wakes for work enqueued after its short claim', async () => {
    const s = scope();
    const queue = s.queue<number, number>('rewake');
    const seen: number[] = [];
    s.worker<number, number>('rewake', async (task) => {
      seen.push(task.payload);
      return task.payload * 2;
    }, { concurrency: 10 });
    // Each round drains the queue with a short claim; the next enqueue must wake the worker.
    for (let round = 0; round < 20; round++) {
      const task = await queue.enqueue(round);
      await expect(task.result({ timeoutMs: 10_000 })).resolves.toBe(round * 2);
    }
    expect(seen).toEqual([...Array(20).keys()]);
  });
});
