/**
 * The scripts' library lost while only the heartbeat talks to Redis (a long handler): the
 * beat reloads it and beats again, without an error; the lease is kept.
 */
import { describe, expect, it } from 'vitest';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

describe('the heartbeat after the library was lost', () => {
  it('keeps the lease of a long handler, and the task runs once', { timeout: 20_000 }, async () => {
    const s = scope();
    s.expectErrors();
    const queue = s.queue<number, number>('beat');
    let runs = 0;
    const admin = s.client();
    const worker = s.worker<number, number>('beat', async (task) => {
      runs++;
      await admin.call('FUNCTION', 'FLUSH');
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      return task.payload;
    }, { leaseMs: 900 });
    const lost: string[] = [];
    worker.on('lost' as never, ((t: { id: string }) => lost.push(t.id)) as never);
    const task = await queue.enqueue(7);
    expect(await task.result({ timeoutMs: 15_000 })).toBe(7);
    expect(runs).toBe(1);
    expect(s.errors).toEqual([]);
  });
});
