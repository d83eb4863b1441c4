import { describe, expect, it } from 'vitest';
import { PayloadTooLargeError, Queue, QueueFullError, ValidationError, Worker } from '../src/index.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

/** Every key under the test's prefix: bad input must leave none behind. */
async function keysOf(s: ReturnType<typeof scope>): Promise<string[]> {
  return s.client().keys(`${s.prefix}:*`);
}

describe('bad input is refused before anything reaches Redis', () => {
  it.each([
    ['empty', ''],
    ['too long', 'x'.repeat(129)],
    ['a space', 'my queue'],
    ['a brace', 'q{1}'],
    ['a colon', 'a:b'],
    ['not a string', 42],
  ])('rejects a queue name with %s', async (_why, name) => {
    const s = scope();
    expect(() => new Queue(name as string, { connection: redis.url, prefix: s.prefix })).toThrow(ValidationError);
    expect(() => new Worker(name as string, async () => {}, { connection: redis.url, prefix: s.prefix, autorun: false })).toThrow(
      /invalid queue name/,
    );
  });

  it('accepts names of letters, digits, dot, dash and underscore up to 128 characters', async () => {
    const s = scope();
    const queue = s.queue(`Az09._-${'x'.repeat(121)}`);
    await expect(queue.enqueue(1)).resolves.toMatchObject({ created: true });
  });

  it.each([
    ['a function', () => 1, /payload is not JSON-serializable: \(top level\) is a function/],
    ['undefined', undefined, /payload is not JSON-serializable: the value is undefined/],
    ['a nested function', { a: { b: () => 1 } }, /a\.b is a function/],
    ['NaN', { n: Number.NaN }, /n is NaN/],
    ['Infinity in an array', [1, Infinity], /1 is Infinity/],
    ['a BigInt', { big: 10n }, /big is a bigint/],
    ['a Map', { m: new Map() }, /m is a Map/],
    ['a symbol', Symbol('s'), /is a symbol/],
    ['an undefined array item', [1, undefined], /1 is undefined/],
  ])('rejects a payload that is %s', async (_why, payload, message) => {
    const s = scope();
    const queue = s.queue();
    const error = await queue.enqueue(payload).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(message);
    expect(await keysOf(s)).toEqual([]);
  });

  it('rejects a cyclic payload', async () => {
    const s = scope();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(s.queue().enqueue(cyclic)).rejects.toThrow(/self refers back to itself/);
    expect(await keysOf(s)).toEqual([]);
  });

  it('rejects a payload over maxPayloadBytes, counting bytes not characters', async () => {
    const s = scope();
    const queue = s.queue('limited', { maxPayloadBytes: 100 });
    await expect(queue.enqueue('é'.repeat(60))).rejects.toBeInstanceOf(PayloadTooLargeError);
    await expect(queue.enqueue('e'.repeat(60))).resolves.toBeDefined();
  });

  it.each([
    [{ priority: 1.5 }, /priority: .*int/i],
    [{ delayMs: -1 }, /delayMs/],
    [{ attempts: 0 }, /attempts/],
    [{ backoff: { type: 'linear', delayMs: 1 } }, /backoff\.type/],
    [{ backoff: { type: 'fixed' } }, /backoff\.delayMs/],
    [{ timeoutMs: '5s' }, /timeoutMs/],
    [{ retries: 3 }, /unknown option "retries"/],
    [{ delayMs: 5, runAt: Date.now() }, /delayMs or runAt, not both/],
    [{ id: 'has space' }, /invalid task id/],
    [{ id: '123' }, /reserved for generated ids/],
    [{ runAt: new Date('nonsense') }, /runAt/],
  ])('rejects task options %j', async (options, message) => {
    const s = scope();
    const error = await s.queue().enqueue('x', options as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(message);
    expect(await keysOf(s)).toEqual([]);
  });

  it('rejects a whole batch when one item is bad, naming the item', async () => {
    const s = scope();
    const queue = s.queue();
    await expect(queue.enqueueMany([{ payload: 1 }, { payload: 2, attempts: -1 }])).rejects.toThrow(/item 1: invalid task options: attempts/);
    await expect(queue.enqueueMany([{ payload: 1 }, {} as never])).rejects.toThrow(/item 1 has no payload/);
    expect(await keysOf(s)).toEqual([]);
  });

  it('rejects unknown and mistyped queue and worker options', () => {
    expect(() => new Queue('q', { connection: redis.url, maxWaitng: 5 } as never)).toThrow(/unknown option "maxWaitng"/);
    expect(() => new Queue('q', { connection: 'localhost:6379' })).toThrow(/redis:\/\//);
    expect(() => new Worker('q', async () => {}, { connection: redis.url, concurrency: 0, autorun: false })).toThrow(/concurrency/);
    expect(() => new Worker('q', async () => {}, { connection: redis.url, leaseMs: '30s', autorun: false } as never)).toThrow(/leaseMs/);
    expect(() => new Worker('q', 'not a function' as never, { connection: redis.url, autorun: false })).toThrow(/handler function/);
  });

  it('rejects bad ids and states in admin calls', async () => {
    const queue = scope().queue();
    await expect(queue.getTask('bad id')).rejects.toBeInstanceOf(ValidationError);
    await expect(queue.cancel('')).rejects.toBeInstanceOf(ValidationError);
    await expect(queue.list('running' as never)).rejects.toThrow(/unknown state "running"/);
    await expect(queue.list('failed', { limit: 0 })).rejects.toBeInstanceOf(ValidationError);
    expect(() => queue.result('x', { timeoutMs: -5 })).toThrow(/timeoutMs/);
  });
});

describe('backpressure', () => {
  it('rejects an enqueue beyond maxWaiting as a whole, writing nothing', async () => {
    const s = scope();
    const queue = s.queue('bounded');
    await queue.configure({ maxWaiting: 3 });
    await queue.enqueueMany([{ payload: 1 }, { payload: 2, delayMs: 60_000 }]);
    const error = await queue.enqueueMany([{ payload: 3 }, { payload: 4 }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueFullError);
    expect(error).toMatchObject({ code: 'QUEUE_FULL', httpStatus: 429, enqueued: [] });
    expect(await queue.counts()).toMatchObject({ waiting: 1, delayed: 1 });
    await expect(queue.enqueue(3)).resolves.toMatchObject({ created: true });
    await expect(queue.enqueue(4)).rejects.toBeInstanceOf(QueueFullError);
    expect(await queue.counts()).toMatchObject({ waiting: 2, delayed: 1 });
  });
});

describe('retention', () => {
  it('keeps at most the configured number of completed tasks, dropping the oldest', async () => {
    const s = scope();
    const queue = s.queue<number, number>('retained');
    await queue.configure({ retention: { completed: { count: 3 } } });
    const tasks = await queue.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ payload: i })));
    s.worker<number, number>('retained', async (task) => task.payload);
    await tasks[9]!.result({ timeoutMs: 5_000 });
    await tasks[0]!.result({ timeoutMs: 5_000 }).catch(() => {});
    expect(await queue.counts()).toMatchObject({ completed: 3 });
    expect(await queue.getTask(tasks[0]!.id)).toBeNull();
    expect((await queue.getTask(tasks[9]!.id))?.result).toBe(9);
  });

  it('drops completed tasks older than maxAgeMs at the next heartbeat', async () => {
    const s = scope();
    const queue = s.queue('aged');
    await queue.configure({ retention: { completed: { maxAgeMs: 0 } } });
    const worker = s.worker('aged', async () => 'r');
    const tasks = await queue.enqueueMany([{ payload: 1 }, { payload: 2 }]);
    await Promise.all(tasks.map((t) => t.result({ timeoutMs: 5_000 })));
    expect((await queue.counts()).completed).toBe(2);
    // Test helper: a heartbeat now (age trimming runs there), instead of waiting for one.
    await (worker as unknown as { beat(): Promise<void> }).beat();
    expect((await queue.counts()).completed).toBe(0);
  });

  it('drops failed and cancelled tasks older than their maxAgeMs at the next heartbeat, though none fails or is cancelled after them', async () => {
    const s = scope();
    const queue = s.queue<string>('aged-failed');
    const worker = s.worker<string>('aged-failed', async () => {
      throw new Error('no');
    });
    const failed = await queue.enqueue('bad', { attempts: 1 });
    await failed.result({ timeoutMs: 5_000 }).catch(() => {});
    const cancelled = await queue.enqueue('dropped', { delayMs: 60_000 });
    await queue.cancel(cancelled.id);
    expect(await queue.counts()).toMatchObject({ failed: 1, cancelled: 1 });
    // Their age passes with the queue idle: the next heartbeat drops them.
    await queue.configure({ retention: { failed: { maxAgeMs: 0 } } });
    await (worker as unknown as { beat(): Promise<void> }).beat();
    expect(await queue.counts()).toMatchObject({ failed: 0, cancelled: 0 });
    expect(await queue.getTask(failed.id)).toBeNull();
  });

  it('removes completed tasks at once with count 0, and keeps failed ones by their own rule', async () => {
    const s = scope();
    const queue = s.queue('nokeep');
    await queue.configure({ retention: { completed: { count: 0 }, failed: { count: 1 } } });
    s.worker('nokeep', async (task) => {
      if (task.payload === 'bad') throw new Error('no');
      return 'ok';
    });
    const tasks = await queue.enqueueMany([
      { payload: 'good' },
      { payload: 'bad', attempts: 1 },
      { payload: 'bad', attempts: 1 },
    ]);
    await Promise.all(tasks.map((t) => t.result({ timeoutMs: 5_000 }).catch(() => {})));
    expect(await queue.counts()).toMatchObject({ completed: 0, failed: 1, waiting: 0, active: 0 });
    expect(await s.client().keys(`${s.prefix}:*:task:*`)).toHaveLength(1);
  });
});

describe('results announced with completion', () => {
  it('reach waiters even when retention deletes the task at once', async () => {
    const s = scope();
    const queue = s.queue<number, { doubled: number }>('announced');
    await queue.configure({ retention: { completed: { count: 0 } } });
    const worker = s.worker<number, { doubled: number }>('announced', async (task) => ({ doubled: task.payload * 2 }), {
      autorun: false,
    });
    const tasks = await queue.enqueueMany([1, 2, 3].map((n) => ({ payload: n })));
    const results = Promise.all(tasks.map((t) => t.result({ timeoutMs: 5_000 })));
    await queue.events.ready(); // the waiters are listening before any task completes
    worker.run();
    expect(await results).toEqual([{ doubled: 2 }, { doubled: 4 }, { doubled: 6 }]);
    expect(await queue.getTask(tasks[0]!.id)).toBeNull();
  });
});
