/**
 * Batches of single enqueues at the edges: a batch is one script call (a full queue refuses
 * it whole, and each enqueue is then tried alone, in order), and each caller hears of its
 * own task only (a replication shortfall included, a refusal of a later batch excluded).
 */
import { describe, expect, it } from 'vitest';
import { QueueFullError, ReplicationTimeoutError } from '../src/index.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

describe('batches of single enqueues', () => {
  it('a coalesced batch over 1,000 whose second chunk is full neither duplicates nor orphans tasks', async () => {
    const s = scope();
    const queue = s.queue<number>('over-chunk');
    await queue.configure({ maxWaiting: 1500 });
    // 2,000 single enqueues made in one tick (or gathered behind a batch in flight).
    const settled = await Promise.allSettled(Array.from({ length: 2000 }, (_, i) => queue.enqueue(i)));
    const ok = settled.filter((r) => r.status === 'fulfilled');
    const full = settled.filter((r) => r.status === 'rejected' && r.reason instanceof QueueFullError);
    const counts = await queue.counts();
    const waiting = [...(await queue.list('waiting', { limit: 1000 })), ...(await queue.list('waiting', { offset: 1000, limit: 1000 }))];
    const payloads = waiting.map((t) => t.payload);
    // Every task in Redis belongs to a caller that was told it was enqueued, once.
    expect(counts.waiting).toBe(ok.length);
    expect(new Set(payloads).size).toBe(payloads.length);
  });

  it('a ReplicationTimeoutError of one enqueue names only its own task', async () => {
    const s = scope();
    const queue = s.queue<number>('durable', { durability: { replicas: 1, timeoutMs: 50 } });
    const settled = await Promise.allSettled([queue.enqueue(1), queue.enqueue(2), queue.enqueue(3)]);
    const written = settled.map((r) => (r.status === 'rejected' && r.reason instanceof ReplicationTimeoutError ? r.reason.written : undefined));
    for (const w of written) expect(w).toHaveLength(1);
  });
});

describe('batches of single enqueues: a batch over 1,000 whose second chunk is refused', () => {
  it('does not tell callers whose tasks were written that nothing was written', { timeout: 60_000 }, async () => {
    const s = scope();
    const admin = s.client();
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    let mismatch = '';
    for (const headroomKb of [1200, 1500, 2000, 2500, 3000, 4000]) {
      const queue = s.queue<string>(`oom-chunk-${headroomKb}`);
      await queue.enqueue('warm');
      const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
      await admin.config('SET', 'maxmemory', String(used + headroomKb * 1024));
      const payload = 'x'.repeat(1024);
      const settled = await Promise.allSettled(Array.from({ length: 2000 }, () => queue.enqueue(payload)));
      await admin.config('SET', 'maxmemory', '0');
      const ok = settled.filter((r) => r.status === 'fulfilled').length;
      const reasons = [...new Set(settled.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.name))];
      const waiting = (await queue.counts()).waiting - 1;
      if (waiting !== ok) mismatch ||= `headroom ${headroomKb} KB: ${waiting} written, ${ok} resolved, the rest: ${reasons.join()}`;
      await admin.flushdb();
    }
    expect(mismatch).toBe('');
  });
});
