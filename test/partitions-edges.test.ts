/**
 * Partitioned queues at their edges (from a review): a worker gives partitions with work
 * turns at its slots, also under a steady producer; a coalesced batch that one
 * full partition refused is not written twice; a full worker that took a partition's wake
 * marker hands it on to an idle worker; a group's tasks stay in one partition whatever else
 * they carry, so its pause holds; errand/testing's drain sees every partition; an empty
 * queue takes a batch within its capacity however it is shared out; merged pages stay
 * within the rows they are merged from; partitions that disagree on their count (a configure
 * cut short) give a typed error; settings changes made at once all hold.
 */
import { describe, expect, it } from 'vitest';
import { PartitionsDisagreeError, QueueFullError, ValidationError, type SettingsPatch, type Worker } from '../src/index.js';
import { drain } from '../src/testing/index.js';
import { deferred, useRedis, useScope } from './support/fixtures.js';
import { call, useGatewayIn } from './support/gateway.js';
import { groupFor } from './support/partitions.js';
import { QueueKeys } from '../src/redis/keys.js';
import * as queueScripts from '../src/redis/queue-scripts.js';
import { runScript } from '../src/redis/scripts.js';

const redis = useRedis();
const scope = useScope(redis);

/** The partition a task id names ('0' for the first). */
const partitionOf = (id: string) => /~(\d+)$/.exec(id)?.[1] ?? '0';

/**
 * Resolves once `worker` waits on the wake marker of every partition (`only`: of the first
 * only; 'alone': of an unpartitioned queue) — a worker's internals, for tests: no event says so.
 */
async function blocked(worker: Worker<any, any>, only?: 'first' | 'alone'): Promise<void> {
  const lanes = () => {
    const all = [...(worker as unknown as { lanes: Map<string, { idle: { blocked: boolean } }> }).lanes.values()];
    return only ? all.slice(0, 1) : all;
  };
  const waiting = () => (only === 'alone' || (worker as unknown as { lanes: Map<string, unknown> }).lanes.size > 1) && lanes().every((lane) => lane.idle.blocked);
  for (let tries = 0; tries < 500 && !waiting(); tries++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(waiting()).toBe(true);
}

describe('partitioned queues at their edges', () => {
  it('give partitions that all have work turns at a worker\'s slots: none waits long, each turn batches', async () => {
    const s = scope();
    const queue = s.queue<number, number>('fair');
    await queue.configure({ partitions: 4 });
    const tasks = await queue.enqueueMany(Array.from({ length: 400 }, (_, i) => ({ payload: i })));
    const order: string[] = [];
    s.worker<number, number>(
      'fair',
      async (task) => {
        order.push(partitionOf(task.id));
        await new Promise((resolve) => setImmediate(resolve));
        return task.payload;
      },
      { concurrency: 4 },
    );
    await Promise.all(tasks.map((task) => task.result({ timeoutMs: 30_000 })));
    for (const from of [0, 100, 200]) {
      const block: Record<string, number> = {};
      for (const p of order.slice(from, from + 100)) block[p] = (block[p] ?? 0) + 1;
      for (const p of ['0', '1', '2', '3']) expect(block[p] ?? 0, `tasks ${from}-${from + 99}: ${JSON.stringify(block)}`).toBeGreaterThanOrEqual(15);
    }
    // Turns of 4 tasks per slot (16 here): a partition waits for at most the other three's
    // turns and the slots still held when its turn comes; and a turn is more than one claim.
    const gaps: Record<string, number> = {};
    const last: Record<string, number> = {};
    const runs: number[] = [];
    order.slice(0, 300).forEach((p, i) => {
      gaps[p] = Math.max(gaps[p] ?? 0, i - (last[p] ?? i));
      last[p] = i;
      if (i === 0 || order[i - 1] !== p) runs.push(1);
      else runs[runs.length - 1]!++;
    });
    for (const p of ['0', '1', '2', '3']) expect(gaps[p], JSON.stringify(gaps)).toBeLessThanOrEqual(3 * 16 + 2 * 4);
    expect(runs.reduce((a, b) => a + b) / runs.length, `runs: ${runs.join(',')}`).toBeGreaterThan(4);
  });

  it('starve no partition while a producer keeps every partition busy', async () => {
    const s = scope();
    const queue = s.queue<number, number>('steady');
    await queue.configure({ partitions: 4 });
    const ran: Record<string, number> = { '0': 0, '1': 0, '2': 0, '3': 0 };
    s.worker<number, number>(
      'steady',
      async (task) => {
        ran[partitionOf(task.id)]!++;
        await new Promise((resolve) => setTimeout(resolve, 2));
        return task.payload;
      },
      { concurrency: 4 },
    );
    for (let batch = 0; batch < 20; batch++) {
      await queue.enqueueMany(Array.from({ length: 400 }, (_, i) => ({ payload: i })));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const least = Math.min(...Object.values(ran));
    const most = Math.max(...Object.values(ran));
    expect(least, JSON.stringify(ran)).toBeGreaterThan(most / 3);
  }, 30_000);

  it('write a coalesced batch once when one partition refuses its part as full', async () => {
    const s = scope();
    const queue = s.queue<string>('dup');
    await queue.configure({ partitions: 2, maxWaiting: 4 }); // 2 per partition
    const g0 = groupFor(0, 2, 'a');
    const g1 = groupFor(1, 2, 'b');
    await queue.enqueue('fill-1', { group: g0 });
    await queue.enqueue('fill-2', { group: g0 }); // partition 0 holds its share
    // Two enqueues in one tick: one batch, split over both partitions.
    const [refused, accepted] = await Promise.allSettled([queue.enqueue('x', { group: g0 }), queue.enqueue('y', { group: g1 })]);
    expect(refused.status).toBe('rejected');
    expect((refused as PromiseRejectedResult).reason).toBeInstanceOf(QueueFullError);
    expect((refused as PromiseRejectedResult).reason.message).toMatch(/maxWaiting 4\b/);
    expect(accepted.status).toBe('fulfilled');
    expect((await queue.list('waiting', { limit: 100 })).filter((task) => task.payload === 'y')).toHaveLength(1);
    expect((await queue.counts()).waiting).toBe(3);
  });

  it('hand a wake marker a full worker took on to an idle worker', async () => {
    const s = scope();
    const queue = s.queue<string, string>('wake');
    await queue.configure({ partitions: 2 });
    const g0 = groupFor(0, 2, 'p');
    const g1 = groupFor(1, 2, 'q');
    const holding = deferred();
    const release = deferred();
    const full = s.worker<string, string>(
      'wake',
      async (task) => {
        if (task.payload === 'hold') {
          holding.resolve();
          await release.promise;
        }
        return 'full';
      },
      { concurrency: 1 },
    );
    const hold = await queue.enqueue('hold', { group: g1 });
    await holding.promise; // the first worker is full, and waits on the other partition's marker
    await blocked(full, 'first');
    const idle = s.worker<string, string>('wake', async () => 'idle', { concurrency: 1 });
    await blocked(idle);
    const next = await queue.enqueue('next', { group: g0 });
    // Whichever worker took the marker, the idle one runs the task, at once (not after its 10 s wait).
    expect(await next.result({ timeoutMs: 3_000 })).toBe('idle');
    release.resolve();
    expect(await hold.result({ timeoutMs: 5_000 })).toBe('full');
  }, 30_000);

  it("keep a group's tasks in one partition whatever else they carry, so its pause holds", async () => {
    const s = scope();
    const queue = s.queue<number, number>('gkeyed');
    await queue.configure({ partitions: 4 });
    await queue.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ payload: i, group: 'tenant-1', ...(i % 2 ? { id: `order-${i}` } : { dedupeKey: `k-${i}` }) })));
    expect((await queue.counts()).partitions!.filter((p) => p.groups > 0)).toHaveLength(1);
    expect((await queue.groups()).groups.map((g) => [g.name, g.waiting])).toEqual([['tenant-1', 20]]);
    await queue.pauseGroup('tenant-1');
    const other = await queue.enqueue(99);
    let ran = 0;
    const worker = s.worker<number, number>('gkeyed', async (task) => (ran++, task.payload), { concurrency: 4 });
    expect(await other.result({ timeoutMs: 10_000 })).toBe(99);
    await blocked(worker); // every partition claimed and found nothing more to run
    expect(ran).toBe(1);
    expect((await queue.getTask('order-3'))?.state).toBe('waiting');
  });

  it('are drained by errand/testing, every partition seen', async () => {
    const s = scope();
    const queue = s.queue<number, number>('drained');
    await queue.configure({ partitions: 2 });
    s.worker<number, number>('drained', async (task) => task.payload, { concurrency: 2 });
    const tasks = await queue.enqueueMany(Array.from({ length: 200 }, (_, i) => ({ payload: i })));
    expect(new Set(tasks.map((task) => partitionOf(task.id))).size).toBe(2);
    const ran = await drain(queue, { timeoutMs: 15_000 });
    expect(ran).toHaveLength(200);
    expect(ran.every((task) => task.state === 'completed')).toBe(true);
  }, 30_000);

  it('take a batch within the capacity into an empty queue however the capacity is shared out', async () => {
    const s = scope();
    const queue = s.queue<number>('cap');
    await queue.configure({ partitions: 4, maxWaiting: 100 });
    expect(await queue.enqueueMany(Array.from({ length: 30 }, (_, i) => ({ payload: i })))).toHaveLength(30);
    expect((await queue.counts()).waiting).toBe(30);
    // Past the capacity: refused, naming the queue's capacity, not a partition's share.
    const error = await queue.enqueueMany(Array.from({ length: 90 }, (_, i) => ({ payload: i }))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueFullError);
    expect((error as QueueFullError).message).toMatch(/maxWaiting 100\b/);
  });

  it('page merged lists within the rows each partition gives, and say so past them', async () => {
    const s = scope();
    const queue = s.queue<number>('paged');
    await queue.configure({ partitions: 2 });
    await queue.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ payload: i, priority: i })));
    expect((await queue.list('waiting', { limit: 3 })).map((task) => task.payload)).toEqual([9, 8, 7]);
    expect((await queue.list('waiting', { offset: 3, limit: 3 })).map((task) => task.payload)).toEqual([6, 5, 4]);
    await expect(queue.list('waiting', { offset: 990, limit: 20 })).rejects.toThrow(ValidationError);
    await expect(queue.groups({ offset: 999, limit: 2 })).rejects.toThrow(/first 1,000 rows/);
  });

  it('refuse with a typed error, writing nothing more, when the partitions disagree on their count', async () => {
    const s = scope();
    const queue = s.queue<number>('torn');
    await queue.configure({ partitions: 2 });
    // A configure cut short: the second partition holds another count than the queue's.
    const client = s.client();
    const [mark] = (await client.hget(`${s.prefix}:{torn}:settings`, 'partitions.lanes'))!.split(',');
    await client.hset(`${s.prefix}:{torn${mark}}:settings`, 'partitions', '3');
    const [first, second] = [groupFor(0, 2, 'torn'), groupFor(1, 2, 'torn')];
    const error = await queue.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ payload: i, group: i % 2 ? second : first }))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartitionsDisagreeError);
    expect(error).toMatchObject({ code: 'PARTITIONS_DISAGREE', httpStatus: 409 });
    expect((error as Error).message).toMatch(/configure the queue's partitions again/);
    // What the first partition took is listed, and is all there is.
    const { enqueued } = error as PartitionsDisagreeError;
    expect(enqueued).toHaveLength(5);
    expect(enqueued.every((id) => !id.includes('~'))).toBe(true);
    expect((await queue.counts()).waiting).toBe(enqueued.length);
    const gw = await useGatewayIn(s, redis);
    const reply = await call(gw, 'POST', '/v1/queues/torn/tasks', { payload: 1, group: second }); // the second partition's
    expect([reply.status, reply.body.error.code]).toEqual([409, 'PARTITIONS_DISAGREE']);
    // Configured again, the queue takes tasks in every partition.
    await queue.configure({ partitions: 2 });
    expect(await queue.enqueue(1, { group: second })).toMatchObject({ id: expect.stringContaining('~') });
  });

  it('keep every one of several settings changes made at once (none overwrites another)', async () => {
    const s = scope();
    await s.queue('busy-settings').configure({ partitions: 3 });
    const patches: SettingsPatch[] = [{ maxWaiting: 300 }, { concurrency: 30 }, { retention: { completed: { count: 99 } } }, { rateLimit: { max: 60, perMs: 1_000 } }, { groups: { concurrency: 2 } }];
    // Each from its own producer (its own connection), all at once.
    await Promise.all(patches.map((patch) => s.queue('busy-settings').configure(patch)));
    expect(await s.client().exists(`${s.prefix}:{busy-settings}:configuring`)).toBe(0); // every hold released
    expect(await s.queue('busy-settings').settings()).toMatchObject({
      partitions: 3,
      maxWaiting: 300,
      concurrency: 30,
      retention: { completed: { count: 99 } },
      rateLimit: { max: 60, perMs: 1_000 },
      groups: { concurrency: 2 },
    });
  });

  it('run a schedule\'s tasks in the first partition while another partition keeps the worker busy', async () => {
    const s = scope();
    const queue = s.queue<string, string>('timed');
    await queue.configure({ partitions: 2 });
    const busy = groupFor(1, 2, 'busy');
    const runs: string[] = [];
    const threeRuns = deferred();
    s.worker<string, string>(
      'timed',
      async (task) => {
        if (task.id.startsWith('sched:') && runs.push(task.id) === 3) threeRuns.resolve();
        await new Promise((resolve) => setImmediate(resolve));
        return 'ok';
      },
      { concurrency: 2 },
    );
    // Partition 1 has work the whole time (batches of 200, topped up as they finish).
    let feeding = true;
    const feed = (async () => {
      while (feeding) {
        const batch = await queue.enqueueMany(Array.from({ length: 200 }, () => ({ payload: 'busy', group: busy })));
        await Promise.all(batch.map((task) => task.result({ timeoutMs: 30_000 })));
      }
    })();
    await queue.schedule('tick', { everyMs: 1_000, payload: 'tick' });
    await threeRuns.promise; // a run a second, though partition 1 never runs dry
    feeding = false;
    await feed;
    // And a plain task for the first partition still runs.
    expect(await (await queue.enqueue('plain', { group: groupFor(0, 2, 'first') })).result({ timeoutMs: 5_000 })).toBe('ok');
  }, 30_000);

  it('let idle workers of a partitioned queue take one wake each: no marker passed round when they have room', async () => {
    const s = scope();
    const queue = s.queue<number, number>('herd');
    await queue.configure({ partitions: 2 });
    const workers = [1, 2, 3].map(() => s.worker<number, number>('herd', async (task) => task.payload, { concurrency: 4 }));
    for (const worker of workers) await blocked(worker);
    const client = s.client();
    const pops = async () => Number(/cmdstat_bzpopmin:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);
    const before = await pops();
    for (let i = 0; i < 20; i++) {
      const task = await queue.enqueue(i);
      expect(await task.result({ timeoutMs: 5_000 })).toBe(i);
      for (const worker of workers) await blocked(worker); // all back in their waits
    }
    // One wake per task (its worker blocks again once): a marker put back would wake the others too.
    expect((await pops()) - before).toBeLessThanOrEqual(20 * 2);
  }, 30_000);

  it('wait for a settings change under way (or its hold to expire) before changing a partitioned queue\'s settings', async () => {
    const s = scope();
    const queue = s.queue('held-settings');
    await queue.configure({ partitions: 2 });
    // A change that died holding the settings: its hold expires, then this one applies.
    await s.client().set(`${s.prefix}:{held-settings}:configuring`, 'dead', 'PX', 300);
    expect(await queue.configure({ maxWaiting: 10 })).toMatchObject({ partitions: 2, maxWaiting: 10 });
    expect(await s.client().exists(`${s.prefix}:{held-settings}:configuring`)).toBe(0);
  });

  it('give an idle worker\'s slots to the new partitions at once when its queue is partitioned', async () => {
    const s = scope();
    const queue = s.queue<string, string>('late');
    const worker = s.worker<string, string>('late', async (task) => task.payload, { concurrency: 1 });
    await blocked(worker, 'alone');
    await queue.configure({ partitions: 2 });
    // Its wait as the only partition held its one slot (a claim behind the pop, for up to
    // 10 s): ended when the second partition joins, so a task there runs at once.
    const task = await queue.enqueue('second', { group: groupFor(1, 2, 'late') });
    expect(task.id).toMatch(/~1/);
    expect(await task.result({ timeoutMs: 4_000 })).toBe('second');
  }, 20_000);

  it('take unpartitioned settings changes made at once, all of them', async () => {
    const s = scope();
    const queues = Array.from({ length: 20 }, () => s.queue('boot'));
    // Every process configures at start: each writes its settings, none is refused.
    const settings = await Promise.all(queues.map((queue, i) => queue.configure({ maxWaiting: 100 + i })));
    expect(settings.every((each) => each.partitions === 1)).toBe(true);
    expect((await queues[0]!.settings()).version).toBe(20);
  });

  it('keep a settings hold when the change\'s last write is refused', async () => {
    const s = scope();
    const keys = new QueueKeys(s.prefix, 'refused');
    const client = s.client();
    await client.set(keys.configuring, 'mine');
    expect(await runScript(client, queueScripts.configure(keys, [['maxWaiting', '5']], { only: 41, release: 'mine' }))).toBe(-1);
    expect(await client.get(keys.configuring)).toBe('mine'); // still held: the change will be tried again
    expect(await runScript(client, queueScripts.configure(keys, [['maxWaiting', '5']], { only: 0, release: 'mine' }))).toBe(1);
    expect(await client.exists(keys.configuring)).toBe(0);
  });
});
