import { describe, expect, it } from 'vitest';
import { TaskCancelledError, TaskNotFoundError, WaitTimeoutError, InvalidStateError } from '../src/index.js';
import { QueueKeys, TASK_FIELDS } from '../src/redis/keys.js';
import { claimByHand, completeByHand, type HandLease } from './support/by-hand.js';
import { deferred, next, useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

describe('enqueue, work, await the result', () => {
  it('runs a task once and hands its result to the producer', async () => {
    const s = scope();
    const queue = s.queue<{ a: number; b: number }, number>('sums');
    const seen: number[] = [];
    s.worker<{ a: number; b: number }, number>('sums', async (task) => {
      seen.push(task.attempt);
      return task.payload.a + task.payload.b;
    });
    const task = await queue.enqueue({ a: 2, b: 3 });
    expect(task.created).toBe(true);
    await expect(task.result({ timeoutMs: 5_000 })).resolves.toBe(5);
    expect(seen).toEqual([1]);
    const info = await queue.getTask(task.id);
    expect(info).toMatchObject({ id: task.id, state: 'completed', payload: { a: 2, b: 3 }, result: 5, attempt: 1, maxAttempts: 3 });
    expect(info!.finishedAt).toBeGreaterThanOrEqual(info!.startedAt!);
    expect(info!.startedAt).toBeGreaterThanOrEqual(info!.createdAt);
  });

  it('awaits a result that was ready before the wait began', async () => {
    const s = scope();
    const queue = s.queue('early');
    const worker = s.worker('early', async () => 'done');
    const completed = next(worker, 'completed');
    const task = await queue.enqueue(null);
    await completed;
    await expect(queue.result(task.id)).resolves.toBe('done');
  });

  it('hands over the result of a task enqueued while listening even if it was announced before the wait', async () => {
    const s = scope();
    const queue = s.queue<string, string>('announced');
    // Completed tasks are not kept: once announced, the result exists only in the announcement.
    await queue.configure({ retention: { completed: { count: 0 } } });
    const warm = (await queue.enqueue('warm')).result({ timeoutMs: 5_000 }); // listening from now on
    const worker = s.worker<string, string>('announced', async (task) => `${task.payload}!`);
    await expect(warm).resolves.toBe('warm!');
    const announced = deferred();
    queue.events.onOutcome((state) => state === 'completed' && announced.resolve());
    const task = await queue.enqueue('late');
    await announced.promise;
    expect(await queue.getTask(task.id)).toBeNull();
    await expect(task.result({ timeoutMs: 5_000 })).resolves.toBe('late!');
    await worker.close();
  });

  it('reads the task when so many outcomes came since its enqueue that its own may be forgotten', async () => {
    const s = scope();
    const queue = s.queue<string, string>('flood');
    const k = new QueueKeys(s.prefix, 'flood');
    await queue.configure({ retention: { completed: { count: 10 } } });
    await queue.result((await queue.enqueue('warm')).id, { timeoutMs: 10 }).catch(() => {}); // listening from now on
    const runOne = async (result: string) => completeByHand(queue, (await claimByHand(queue))[0]!, result);
    await runOne('"warm"');
    const task = await queue.enqueue('x');
    let flooded = deferred();
    let seen = 0;
    queue.events.onOutcome((_state, ids) => {
      if (ids.includes(task.id)) flooded.resolve();
      else if (++seen === 110_000) flooded.resolve();
    });
    await runOne('"announced"');
    await flooded.promise;
    // Its outcome is remembered now, as announced; the hash says otherwise from here on, so
    // the answer tells which of the two the wait used.
    await s.client().hset(k.task(task.id), TASK_FIELDS.result, '"read"');
    flooded = deferred();
    const publisher = s.client().pipeline();
    for (let i = 0; i < 110_000; i++) publisher.publish(k.events, `completed|other-${i}|1\n1`);
    await publisher.exec();
    await flooded.promise;
    await expect(task.result({ timeoutMs: 5_000 })).resolves.toBe('read');
  });

  it('hands over the result again when the same handle asks twice', async () => {
    const s = scope();
    const queue = s.queue<number, number>('twice');
    const warm = (await queue.enqueue(0)).result({ timeoutMs: 5_000 }); // listening from now on
    s.worker<number, number>('twice', async (task) => task.payload * 2);
    await warm;
    const task = await queue.enqueue(21);
    await expect(task.result({ timeoutMs: 5_000 })).resolves.toBe(42);
    await expect(task.result({ timeoutMs: 5_000 })).resolves.toBe(42);
  });

  it('does not take an outcome of a removed namesake announced after a caller id was enqueued again', async () => {
    const s = scope();
    const queue = s.queue<string, string>('namesake');
    const k = new QueueKeys(s.prefix, 'namesake');
    // Claims and completions made by hand, on a queue that keeps no completed task.
    await queue.configure({ retention: { completed: { count: 0 } } });
    const claimOne = async () => (await claimByHand(queue))[0]!;
    const complete = (lease: HandLease, json: string) => completeByHand(queue, lease, json);
    await queue.enqueue('warm', { id: 'warm' });
    await complete(await claimOne(), '"warm"');
    await queue.result('warm').catch(() => {}); // deleted at once, but listening from now on

    await queue.enqueue('old', { id: 'X' });
    const old = await claimOne();
    const announced = deferred();
    queue.events.onOutcome((_state, ids) => ids.includes('X') && announced.resolve());
    // The old X completes (and is deleted) just before the new X is created; its
    // announcement reaches this process after the new enqueue was sent, before the wait.
    const completed = complete(old, '"old"');
    const task = await queue.enqueue('new', { id: 'X' });
    await completed;
    await announced.promise;
    expect(task.created).toBe(true);
    const result = task.result({ timeoutMs: 5_000 });
    await complete(await claimOne(), '"new"');
    await expect(result).resolves.toBe('new');
  });

  it("ignores a late completion of a caller id's earlier task while waiting for the new one", async () => {
    const s = scope();
    const queue = s.queue<string, string>('late');
    const k = new QueueKeys(s.prefix, 'late');
    await queue.configure({ retention: { completed: { count: 0 } } });
    const task = await queue.enqueue('new', { id: 'Y' });
    const { createdAt } = (await queue.getTask('Y'))!;
    const result = task.result({ timeoutMs: 5_000 });
    await queue.getTask('Y'); // sent after the wait's own read on the same connection: that read has answered
    // What the completion of an earlier Y (created at another time) looks like, arriving late.
    await s.client().publish(k.events, `completed|Y|${createdAt - 1000}\n"old"`);
    await completeByHand(queue, (await claimByHand(queue))[0]!, '"new"');
    await expect(result).resolves.toBe('new');
  });

  it('does not hand a task enqueued again under a removed id the outcome of the earlier one', async () => {
    const s = scope();
    const queue = s.queue<string, string>('reused');
    await queue.configure({ retention: { completed: { count: 0 } } });
    const warm = (await queue.enqueue('warm')).result({ timeoutMs: 5_000 }); // listening from now on
    const release = deferred();
    s.worker<string, string>('reused', async (task) => {
      if (task.payload === 'second') await release.promise;
      return task.payload;
    });
    await warm;
    // The first task's outcome is announced while nobody waits for it, so it is remembered.
    const announced = deferred();
    queue.events.onOutcome((state, ids) => ids.includes('same') && announced.resolve());
    await queue.enqueue('first', { id: 'same' });
    await announced.promise;
    const second = await queue.enqueue('second', { id: 'same' });
    expect(second.created).toBe(true);
    const result = second.result({ timeoutMs: 5_000 });
    release.resolve();
    await expect(result).resolves.toBe('second');
  });

  it('keeps an undefined result undefined', async () => {
    const s = scope();
    const queue = s.queue('void');
    s.worker('void', async () => undefined);
    const task = await queue.enqueue(1);
    await expect(task.result({ timeoutMs: 5_000 })).resolves.toBeUndefined();
  });

  it('times out a wait without touching the task', async () => {
    const s = scope();
    const queue = s.queue('nobody');
    const task = await queue.enqueue('x');
    await expect(task.result({ timeoutMs: 50 })).rejects.toBeInstanceOf(WaitTimeoutError);
    expect((await queue.getTask(task.id))?.state).toBe('waiting');
  });

  it('rejects a wait for a task that does not exist', async () => {
    const queue = scope().queue('missing');
    await expect(queue.result('nope', { timeoutMs: 1_000 })).rejects.toBeInstanceOf(TaskNotFoundError);
  });

  it('enqueues many in one call, each becoming a task', async () => {
    const s = scope();
    const queue = s.queue<number, number>('many');
    const tasks = await queue.enqueueMany(Array.from({ length: 2_500 }, (_, i) => ({ payload: i })));
    expect(new Set(tasks.map((t) => t.id)).size).toBe(2_500);
    expect(await queue.counts()).toMatchObject({ waiting: 2_500, active: 0 });
    s.worker<number, number>('many', async (task) => task.payload * 2, { concurrency: 50 });
    const results = await Promise.all(tasks.map((task) => task.result({ timeoutMs: 20_000 })));
    expect(results).toEqual(Array.from({ length: 2_500 }, (_, i) => i * 2));
    expect(await queue.counts()).toMatchObject({ waiting: 0, active: 0, completed: 1_000 });
  });
});

describe('enqueue forms', () => {
  it('keeps call order and options when bare payloads and tasks with options share a call', async () => {
    const s = scope();
    const queue = s.queue<string>('mixed');
    const tasks = await queue.enqueueMany([
      { payload: 'a' },
      { payload: 'b', id: 'custom-b', attempts: 5 },
      { payload: 'c' },
      { payload: 'd', delayMs: 60_000 },
    ]);
    expect(tasks.map((t) => t.id)).toEqual([tasks[0]!.id, 'custom-b', tasks[2]!.id, tasks[3]!.id]);
    expect(Number(tasks[2]!.id)).toBe(Number(tasks[0]!.id) + 1);
    const infos = await Promise.all(tasks.map((t) => queue.getTask(t.id)));
    expect(infos.map((info) => [info?.payload, info?.state, info?.maxAttempts])).toEqual([
      ['a', 'waiting', 3],
      ['b', 'waiting', 5],
      ['c', 'waiting', 3],
      ['d', 'delayed', 3],
    ]);
    const bare = await queue.enqueueMany([{ payload: 'e' }, { payload: 'f' }]);
    // Consecutive within a call; a later call's ids are greater (the counter is floored by the clock).
    expect(Number(bare[1]!.id)).toBe(Number(bare[0]!.id) + 1);
    expect(Number(bare[0]!.id)).toBeGreaterThan(Number(tasks[3]!.id));
    expect(bare.every((t) => t.created)).toBe(true);
    expect((await queue.list('waiting', { limit: 10 })).map((t) => t.payload)).toEqual(['a', 'b', 'c', 'e', 'f']);
  });

  it('reads replies right on a client that gives numbers as strings', async () => {
    const s = scope();
    const url = new URL(redis.url);
    const connection = { host: url.hostname, port: Number(url.port), stringNumbers: true };
    const queue = s.queue<number, number>('strings', { connection });
    const tasks = await queue.enqueueMany([{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
    expect(tasks.map((t) => t.created)).toEqual([true, true, true]);
    expect(new Set(tasks.map((t) => t.id)).size).toBe(3);
    s.worker<number, number>('strings', async (task) => task.payload * 2, { connection });
    await expect(Promise.all(tasks.map((t) => t.result({ timeoutMs: 5_000 })))).resolves.toEqual([2, 4, 6]);
  });

  it("applies a queue's default task options to bare payloads", async () => {
    const s = scope();
    const queue = s.queue<string>('defaults', { defaultTaskOptions: { attempts: 7, priority: 2 } });
    const [task] = await queue.enqueueMany([{ payload: 'x' }]);
    const single = await queue.enqueue('y');
    expect(await queue.getTask(task!.id)).toMatchObject({ maxAttempts: 7, priority: 2 });
    expect(await queue.getTask(single.id)).toMatchObject({ maxAttempts: 7, priority: 2 });
  });
});

describe('ordering', () => {
  it('runs higher priorities first and FIFO within a priority', async () => {
    const s = scope();
    const queue = s.queue<string>('prio');
    await queue.enqueue('low-1', { priority: -5 });
    await queue.enqueue('mid-1');
    await queue.enqueue('high-1', { priority: 10 });
    await queue.enqueue('mid-2', { priority: 0 });
    await queue.enqueue('high-2', { priority: 10 });
    await queue.enqueue('low-2', { priority: -5 });
    const waiting = await queue.list('waiting');
    expect(waiting.map((t) => t.payload)).toEqual(['high-1', 'high-2', 'mid-1', 'mid-2', 'low-1', 'low-2']);
    const order: string[] = [];
    const done = deferred();
    s.worker<string>('prio', async (task) => {
      order.push(task.payload);
      if (order.length === 6) done.resolve();
    });
    await done.promise;
    expect(order).toEqual(['high-1', 'high-2', 'mid-1', 'mid-2', 'low-1', 'low-2']);
  });

  it('holds a delayed task until it is due, then runs it', async () => {
    const s = scope();
    const queue = s.queue('later');
    const worker = s.worker('later', async () => 'ran');
    const task = await queue.enqueue('x', { delayMs: 300 });
    expect((await queue.getTask(task.id))?.state).toBe('delayed');
    expect(await queue.counts()).toMatchObject({ delayed: 1, waiting: 0 });
    await next(worker, 'completed');
    const info = await queue.getTask(task.id);
    expect(info?.state).toBe('completed');
    // The server clock decides: the start is no earlier than the due time.
    expect(info!.startedAt).toBeGreaterThanOrEqual(info!.createdAt + 300);
  });

  it('accepts runAt as a Date', async () => {
    const s = scope();
    const queue = s.queue('runat');
    const task = await queue.enqueue('x', { runAt: new Date(Date.now() + 60_000) });
    const info = await queue.getTask(task.id);
    expect(info?.state).toBe('delayed');
    expect(info!.runAt).toBeGreaterThan(info!.createdAt);
  });
});

describe('dedupe and ids', () => {
  it('returns the live task for a repeated dedupe key, and a new one after it finished', async () => {
    const s = scope();
    const queue = s.queue('dedupe');
    const first = await queue.enqueue({ n: 1 }, { dedupeKey: 'user-7' });
    const again = await queue.enqueue({ n: 2 }, { dedupeKey: 'user-7' });
    expect(again.id).toBe(first.id);
    expect(again.created).toBe(false);
    expect(await queue.counts()).toMatchObject({ waiting: 1 });
    s.worker('dedupe', async (task) => task.payload);
    await first.result({ timeoutMs: 5_000 });
    const third = await queue.enqueue({ n: 3 }, { dedupeKey: 'user-7' });
    expect(third.created).toBe(true);
    expect(third.id).not.toBe(first.id);
  });

  it('returns the existing task for a repeated custom id', async () => {
    const queue = scope().queue('ids');
    const a = await queue.enqueue(1, { id: 'order-42' });
    const b = await queue.enqueue(2, { id: 'order-42' });
    expect([a.id, a.created, b.id, b.created]).toEqual(['order-42', true, 'order-42', false]);
    expect((await queue.getTask('order-42'))?.payload).toBe(1);
  });
});

describe('pause and resume', () => {
  it('stops claims while paused and resumes them', async () => {
    const s = scope();
    const queue = s.queue('pausable');
    await queue.pause();
    const worker = s.worker('pausable', async () => 'ok');
    const task = await queue.enqueue('x');
    // The worker claimed (paused reply) and blocks; nothing runs while paused.
    await expect(task.result({ timeoutMs: 200 })).rejects.toBeInstanceOf(WaitTimeoutError);
    expect(await queue.counts()).toMatchObject({ waiting: 1, paused: true });
    const completed = next(worker, 'completed');
    await queue.resume();
    await completed;
    expect(await queue.counts()).toMatchObject({ waiting: 0, completed: 1, paused: false });
  });
});

describe('admin actions', () => {
  it('cancels a waiting task; its waiter hears so', async () => {
    const queue = scope().queue('cancel');
    const task = await queue.enqueue('x');
    const result = task.result();
    await queue.cancel(task.id);
    await expect(result).rejects.toBeInstanceOf(TaskCancelledError);
    expect(await queue.counts()).toMatchObject({ waiting: 0, cancelled: 1 });
    await expect(queue.cancel(task.id)).rejects.toBeInstanceOf(InvalidStateError);
    await expect(queue.cancel('ghost')).rejects.toBeInstanceOf(TaskNotFoundError);
  });

  it('cancels a delayed task', async () => {
    const queue = scope().queue('cancel-delayed');
    const task = await queue.enqueue('x', { delayMs: 60_000 });
    await queue.cancel(task.id);
    expect(await queue.counts()).toMatchObject({ delayed: 0, cancelled: 1 });
  });

  it('cancels an active task: the handler is aborted and its result refused', async () => {
    const s = scope();
    const queue = s.queue('cancel-active');
    const started = deferred();
    const aborted = deferred<unknown>();
    const worker = s.worker(
      'cancel-active',
      async (_task, { signal }) => {
        started.resolve();
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
        aborted.resolve(signal.reason);
        return 'too late';
      },
      { leaseMs: 150 },
    );
    const lost = next(worker, 'lost');
    const task = await queue.enqueue('x');
    await started.promise;
    await queue.cancel(task.id);
    expect((await aborted.promise as Error).name).toBe('LeaseLostError');
    await lost;
    expect((await queue.getTask(task.id))?.state).toBe('cancelled');
  });

  it('retries a cancelled task and removes tasks', async () => {
    const s = scope();
    const queue = s.queue('retry');
    const task = await queue.enqueue('x');
    await queue.cancel(task.id);
    await queue.retry(task.id);
    expect((await queue.getTask(task.id))?.state).toBe('waiting');
    await expect(queue.retry(task.id)).rejects.toBeInstanceOf(InvalidStateError);
    await queue.remove(task.id);
    expect(await queue.getTask(task.id)).toBeNull();
    expect(await queue.counts()).toMatchObject({ waiting: 0, cancelled: 0 });
    await expect(queue.remove(task.id)).rejects.toBeInstanceOf(TaskNotFoundError);
  });
});

describe('result subscriptions', () => {
  it('share one pub/sub connection per process, closed with the last queue', async () => {
    const s = scope();
    const client = s.client();
    const subscriberConnections = async () =>
      (await client.client('LIST') as string).split('\n').filter((line) => / sub=[1-9]/.test(line)).length;
    const [a, b] = [s.queue('shared-a'), s.queue('shared-b')];
    s.worker('shared-a', async () => 'a');
    s.worker('shared-b', async () => 'b');
    const [ta, tb] = [await a.enqueue(1), await b.enqueue(2)];
    expect([await ta.result({ timeoutMs: 5_000 }), await tb.result({ timeoutMs: 5_000 })]).toEqual(['a', 'b']);
    expect(await subscriberConnections()).toBe(1);
    await a.close();
    expect(await subscriberConnections()).toBe(1);
    await b.close();
    expect(await subscriberConnections()).toBe(0);
  });
});

describe('throughput history', () => {
  it('counts finished tasks per minute, in Redis', async () => {
    const s = scope();
    const queue = s.queue<number>('rates');
    s.worker<number>('rates', async (task) => {
      if (task.payload === 0) throw new Error('no');
      return task.payload;
    });
    const tasks = await queue.enqueueMany([0, 1, 2, 3].map((n) => ({ payload: n, attempts: 1 })));
    await Promise.all(tasks.map((t) => t.result({ timeoutMs: 5_000 }).catch(() => {})));
    const points = await queue.throughput({ minutes: 5 });
    expect(points).toHaveLength(5);
    expect(points[4]!.minute - points[0]!.minute).toBe(4);
    const sum = (list: typeof points) =>
      list.reduce((acc, p) => ({ completed: acc.completed + p.completed, failed: acc.failed + p.failed }), { completed: 0, failed: 0 });
    expect(sum(points)).toEqual({ completed: 3, failed: 1 });
    // A second Queue object (a restarted dashboard) reads the same history.
    expect(sum(await s.queue('rates').throughput({ minutes: 5 }))).toEqual({ completed: 3, failed: 1 });
    await expect(queue.throughput({ minutes: 0 })).rejects.toThrow(/minutes/);
  });
});

describe('single enqueues made together', () => {
  it('share one script call, each still getting its own task in call order', async () => {
    const s = scope();
    const queue = s.queue<number>('coalesced');
    await queue.enqueue(-1); // scripts loaded, connection up
    const client = s.client();
    // Script calls, as functions (Redis 7) or with EVALSHA (6.2).
    const evalCalls = async () => {
      const stats = await client.info('commandstats');
      return Number(/cmdstat_fcall:calls=(\d+)/.exec(stats)?.[1] ?? 0) + Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    };
    const before = await evalCalls();
    const tasks = await Promise.all(Array.from({ length: 100 }, (_, i) => queue.enqueue(i)));
    expect(await evalCalls()).toBe(before + 1);
    const ids = tasks.map((t) => Number(t.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect((await queue.list('waiting', { limit: 200 })).map((t) => t.payload)).toEqual([-1, ...Array.from({ length: 100 }, (_, i) => i)]);
  });

  it('keep dedupe between calls of the same batch', async () => {
    const queue = scope().queue('coalesced-dedupe');
    const [a, b] = await Promise.all([queue.enqueue(1, { dedupeKey: 'k' }), queue.enqueue(2, { dedupeKey: 'k' })]);
    expect([a.created, b.created, b.id]).toEqual([true, false, a.id]);
  });

  it('reject only the call with bad input', async () => {
    const queue = scope().queue('coalesced-bad');
    const results = await Promise.allSettled([queue.enqueue(1), queue.enqueue((() => 1) as never), queue.enqueue(3)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });
});
