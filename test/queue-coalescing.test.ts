/**
 * Single enqueues share script calls: those of one tick go together, and those made while
 * a batch is on its way (other requests of a busy web server, each in its own tick) wait
 * for its reply and go together in the next, each still its own task, in call order.
 */
import { describe, expect, it } from 'vitest';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

async function scriptCalls(s: ReturnType<typeof scope>): Promise<number> {
  const stats = await s.client().info('commandstats');
  return [...stats.matchAll(/cmdstat_(?:fcall|evalsha|eval):calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

describe('single enqueues', () => {
  it('made in separate ticks while a batch is on its way go together, in call order', async () => {
    const s = scope();
    const queue = s.queue<number>('coalesced');
    await queue.enqueue(-1); // loads the scripts
    const admin = s.client();
    await admin.config('RESETSTAT');
    // Redis holds every client's commands for a moment, so the first batch is surely on its
    // way while the others are made (on a fast machine its reply could come between ticks).
    await admin.call('CLIENT', 'PAUSE', '500', 'ALL');
    // 200 enqueues, each in a tick of its own (as HTTP requests arrive), none awaited first.
    const pending: Promise<{ id: string }>[] = [];
    await new Promise<void>((resolve) => {
      const step = (i: number) => {
        if (i === 200) return resolve();
        pending.push(queue.enqueue(i));
        setImmediate(() => step(i + 1));
      };
      step(0);
    });
    const tasks = await Promise.all(pending);
    const calls = await scriptCalls(s);
    // One call per tick would be 200; the first batch goes alone, the other 199 gather
    // behind it: 2 calls (a few more only if making them took longer than the pause).
    expect(calls).toBeLessThanOrEqual(5);
    const ids = tasks.map((task) => task.id);
    expect(new Set(ids).size).toBe(200);
    // Ids are issued in call order, and the tasks wait in it.
    expect([...ids].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))).toEqual(ids);
    const waiting = await queue.list('waiting', { limit: 300 });
    expect(waiting.map((task) => task.payload)).toEqual([-1, ...Array.from({ length: 200 }, (_, i) => i)]);
  });

  it('accepted before close are sent before the connection closes', async () => {
    const s = scope();
    const queue = s.queue<number>('closing');
    const first = queue.enqueue(1);
    await new Promise((resolve) => setImmediate(resolve));
    const second = queue.enqueue(2); // behind the first batch, if it is still out
    await queue.close();
    expect((await first).id).not.toBe((await second).id);
    const reader = s.queue<number>('closing');
    expect(await reader.counts()).toMatchObject({ waiting: 2 });
  });
});
