/**
 * Partitioned queues on one Redis: the layout kept in Redis, routing (keyed tasks to their
 * partition, the rest spread), ids that name their partition, counts summed with a
 * per-partition breakdown, a worker consuming every partition within its concurrency,
 * settings shared out, a change of the partition count while producers and workers run
 * (new tasks to the new layout, the old one drained), and failed tasks retried in the
 * partitions that hold them.
 */
import { describe, expect, it, vi } from 'vitest';
import { ValidationError, type Task } from '../src/index.js';
import { QueueKeys } from '../src/redis/keys.js';
import * as queueScripts from '../src/redis/queue-scripts.js';
import { runScript } from '../src/redis/scripts.js';
import { useRedis, useScope } from './support/fixtures.js';
import { groupFor } from './support/partitions.js';

const redis = useRedis();
const scope = useScope(redis);

/** Resolves once every task has its result (or rejects with the first failure). */
function results<R>(tasks: Task<R>[]): Promise<R[]> {
  return Promise.all(tasks.map((task) => task.result({ timeoutMs: 20_000 })));
}

describe('partitioned queues', () => {
  it('spread tasks over their partitions, with ids naming theirs, and a worker runs them all within its concurrency', async () => {
    const s = scope();
    const queue = s.queue<number, number>('spread');
    expect((await queue.configure({ partitions: 4 })).partitions).toBe(4);
    const tasks = await queue.enqueueMany(Array.from({ length: 400 }, (_, i) => ({ payload: i })));
    const counts = await queue.counts();
    expect(counts.waiting).toBe(400);
    expect(counts.partitions?.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
    expect(counts.partitions?.map((p) => p.waiting)).toEqual([100, 100, 100, 100]);
    // Ids name their partition: `<digits>` in the first, `<digits>~<n>` in the others.
    const marks = new Set(tasks.map((task) => /~\d+$/.exec(task.id)?.[0] ?? ''));
    expect([...marks].sort()).toEqual(['', '~1', '~2', '~3']);
    for (const task of [tasks[0]!, tasks[399]!]) expect((await queue.getTask(task.id))?.payload).toBe(tasks.indexOf(task));

    let running = 0;
    let most = 0;
    s.worker<number, number>(
      'spread',
      async (task) => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
        return task.payload * 2;
      },
      { concurrency: 3 },
    );
    expect(await results(tasks)).toEqual(tasks.map((_, i) => i * 2));
    expect(most).toBeLessThanOrEqual(3);
    expect(await queue.counts()).toMatchObject({ waiting: 0, active: 0, completed: 400 });
    const [first] = await queue.list('completed', { limit: 5 });
    expect(first?.state).toBe('completed');
    expect((await queue.throughput({ minutes: 2 })).reduce((sum, point) => sum + point.completed, 0)).toBe(400);
  });

  it('keep a dedupe key, a caller id and a group within one partition', async () => {
    const s = scope();
    const queue = s.queue<string>('keyed');
    await queue.configure({ partitions: 5 });
    const a = await queue.enqueue('a', { dedupeKey: 'invoice-7' });
    const again = await queue.enqueue('a again', { dedupeKey: 'invoice-7' });
    expect(again.id).toBe(a.id);
    expect(again.created).toBe(false);

    const mine = await queue.enqueue('mine', { id: 'order-1' });
    expect(mine.id).toBe('order-1');
    expect((await queue.getTask('order-1'))?.payload).toBe('mine');
    expect((await queue.enqueue('twice', { id: 'order-1' })).created).toBe(false);
    await queue.cancel('order-1');
    expect((await queue.getTask('order-1'))?.state).toBe('cancelled');

    await queue.enqueueMany(Array.from({ length: 30 }, (_, i) => ({ payload: `g${i}`, group: 'tenant-1' })));
    const holding = (await queue.counts()).partitions!.filter((p) => p.groups > 0);
    expect(holding).toHaveLength(1);
    expect(holding[0]!.waiting).toBeGreaterThanOrEqual(30);
    await queue.pauseGroup('tenant-1');
    expect((await queue.groups()).groups).toEqual([expect.objectContaining({ name: 'tenant-1', waiting: 30, paused: true })]);

    await expect(queue.enqueue('x', { id: 'a~1' })).rejects.toThrow(ValidationError);
    await expect(queue.enqueue('x', { id: 'a~1' })).rejects.toThrow(/reserved for the partition mark/);
  });

  it('share budgets out over partitions, keep the settings as given, and refuse a budget too small to share', async () => {
    const s = scope();
    const queue = s.queue('budget');
    const settings = await queue.configure({ partitions: 3, concurrency: 10, rateLimit: { max: 5, perMs: 1_000 }, maxWaiting: 100 });
    expect(settings).toMatchObject({ partitions: 3, concurrency: 10, rateLimit: { max: 5, perMs: 1_000 }, maxWaiting: 100 });
    const client = s.client();
    const base = `${s.prefix}:{budget}:settings`;
    const marks = ['', ...(await client.hget(base, 'partitions.lanes'))!.split(',')];
    const shares = await Promise.all(marks.map((mark) => client.hmget(`${s.prefix}:{budget${mark}}:settings`, 'concurrency', 'rateLimit.max', 'maxWaiting', 'rateLimit.perMs')));
    expect(shares).toEqual([
      ['4', '2', '34', '1000'],
      ['3', '2', '33', '1000'],
      ['3', '1', '33', '1000'],
    ]);
    const before = await queue.settings();
    await expect(queue.configure({ concurrency: 2 })).rejects.toThrow(/concurrency 2 cannot be shared by 3 partitions/);
    expect(await queue.settings()).toEqual(before);
    expect(await queue.configure({ concurrency: null })).toMatchObject({ concurrency: null, partitions: 3 });
    expect(await client.hget(`${s.prefix}:{budget${marks[2]}}:settings`, 'concurrency')).toBeNull();
    await queue.pause();
    expect((await queue.counts()).partitions!.map((p) => p.paused)).toEqual([true, true, true]);
    await queue.resume();
    expect((await queue.counts()).paused).toBe(false);
  });

  it('change their count under running producers and workers: new tasks go to the new layout, the old one is drained', async () => {
    const s = scope();
    const producer = s.queue<number, number>('resized');
    const admin = s.queue('resized');
    const worker = s.worker<number, number>('resized', async (task) => task.payload, { concurrency: 4, autorun: false });
    const first = await producer.enqueueMany(Array.from({ length: 100 }, (_, i) => ({ payload: i })));
    // Partitioned behind the producer's back: its next batch is refused once and routed again.
    await admin.configure({ partitions: 4 });
    const second = await producer.enqueueMany(Array.from({ length: 400 }, (_, i) => ({ payload: 100 + i })));
    expect((await producer.counts()).partitions!.map((p) => p.waiting)).toEqual([200, 100, 100, 100]);
    await admin.configure({ partitions: 2 });
    const third = await producer.enqueueMany(Array.from({ length: 200 }, (_, i) => ({ payload: 500 + i })));
    const counts = await producer.counts();
    expect(counts.partitions!.map((p) => [p.routed, p.waiting])).toEqual([
      [true, 300],
      [true, 200],
      [false, 100],
      [false, 100],
    ]);
    worker.run();
    const all = [...first, ...second, ...third];
    expect(await results(all)).toEqual(all.map((_, i) => i));
    expect(await producer.counts()).toMatchObject({ waiting: 0, completed: 700 });
    // Back to one partition: the first again, the others drained.
    expect((await admin.configure({ partitions: 1 })).partitions).toBe(1);
    const last = await producer.enqueue(7);
    expect(last.id).toMatch(/^\d+$/);
    expect(await last.result({ timeoutMs: 10_000 })).toBe(7);
  });

  it('are picked up by a worker that started before the queue was partitioned', async () => {
    const s = scope();
    const queue = s.queue<number, number>('joined');
    s.worker<number, number>('joined', async (task) => task.payload + 1, { concurrency: 2 });
    expect(await (await queue.enqueue(1)).result({ timeoutMs: 10_000 })).toBe(2);
    await queue.configure({ partitions: 3 });
    const tasks = await queue.enqueueMany(Array.from({ length: 300 }, (_, i) => ({ payload: i })));
    expect(new Set(tasks.map((task) => /~\d+$/.exec(task.id)?.[0] ?? '')).size).toBe(3);
    expect(await results(tasks)).toEqual(tasks.map((_, i) => i + 1));
    const [worker] = await queue.workers();
    expect(worker?.queue).toBe('joined');
  });

  it("keep the queue's pause and a group's settings over a change of the count, in old and new partitions", async () => {
    const s = scope();
    const queue = s.queue<string, string>('kept');
    await queue.configure({ partitions: 2 });
    const ran: string[] = [];
    s.worker<string, string>('kept', async (task) => (ran.push(task.payload), task.payload), { concurrency: 2 });
    // A paused group's task in partition 1, whose home moves to partition 0 when the count drops.
    const moving = groupFor(1, 2);
    await queue.pauseGroup(moving);
    await queue.enqueue('old-home', { group: moving });
    await queue.configure({ partitions: 1 });
    await queue.resumeGroup(moving); // reaches the partition its task is in
    await vi.waitFor(() => expect(ran).toContain('old-home'), { timeout: 5_000 });
    // Paused, then raised: the new partitions are paused too; and a group paused before
    // the raise stays paused in its new home.
    const rehomed = groupFor(3, 4); // in the one partition before the raise, in partition 3 after
    await queue.pauseGroup(rehomed);
    await queue.pause();
    await queue.configure({ partitions: 4 });
    expect((await queue.counts()).partitions!.map((p) => p.paused)).toEqual([true, true, true, true]);
    await queue.enqueueMany(Array.from({ length: 40 }, (_, i) => ({ payload: `p${i}` })));
    const parked = await queue.enqueue('rehomed', { group: rehomed });
    expect(parked.id).toMatch(/~3$/);
    await queue.resume();
    await vi.waitFor(() => expect(ran.filter((p) => p.startsWith('p'))).toHaveLength(40), { timeout: 5_000 });
    expect(ran).not.toContain('rehomed');
    await queue.resumeGroup(rehomed);
    expect(await parked.result({ timeoutMs: 5_000 })).toBe('rehomed');
  }, 30_000);

  it('make partitions added by a raise match the first, whatever they held before (a raise cut short)', async () => {
    const s = scope();
    const queue = s.queue<string, string>('remade');
    await queue.configure({ partitions: 2 });
    const home = groupFor(2, 4);
    // What a raise cut short after copying a pause and a group's pause would leave in partition 2.
    const stale = new QueueKeys(s.prefix, 'remade~2');
    await runScript(s.client(), queueScripts.setPaused(stale, true));
    await runScript(s.client(), queueScripts.configureGroup(stale, home, [['paused', '1']]));
    s.worker<string, string>('remade', async (task) => task.payload, { concurrency: 2 });
    await queue.configure({ partitions: 4 });
    expect((await queue.counts()).partitions!.map((p) => p.paused)).toEqual([false, false, false, false]);
    const task = await queue.enqueue('runs', { group: home });
    expect(task.id).toMatch(/~2$/);
    expect(await task.result({ timeoutMs: 5_000 })).toBe('runs');
  });

  it('retry every failed task in the partition that holds it (retryAllFailed)', async () => {
    const s = scope();
    const queue = s.queue<string, string>('refailed');
    await queue.configure({ partitions: 3 });
    let down = true;
    s.worker<string, string>('refailed', async (task) => {
      if (down) throw new Error('down');
      return task.payload;
    });
    // Generated ids name their partition; caller ids are routed by their hash.
    const spread = await queue.enqueueMany(Array.from({ length: 6 }, (_, i) => ({ payload: `spread-${i}`, attempts: 1 })));
    const own = await Promise.all(Array.from({ length: 6 }, (_, i) => queue.enqueue(`own-${i}`, { id: `own-${i}`, attempts: 1 })));
    const tasks = [...spread, ...own];
    for (const task of tasks) await expect(task.result({ timeoutMs: 10_000 })).rejects.toThrow(/down/);
    expect((await queue.counts()).partitions!.map((p) => p.failed > 0)).toEqual([true, true, true]);
    down = false;
    expect((await queue.retryAllFailed()).sort()).toEqual(tasks.map((task) => task.id).sort());
    expect(await results(tasks)).toEqual([...spread.map((_, i) => `spread-${i}`), ...own.map((_, i) => `own-${i}`)]);
    expect(await queue.counts()).toMatchObject({ failed: 0, completed: 12 });
  });
});
