/**
 * Flow control, enforced in Redis across every worker: queue settings with one owner (in
 * Redis), a rate limit never exceeded in any window, global and per-group concurrency never
 * exceeded, slots that come back when a worker dies, fair rotation over groups, and a
 * handler's RateLimitedError holding exactly its scope. Limits that must hold across
 * processes are checked with three worker processes (test/fixtures/flow-worker.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Queue, RateLimitedError, ValidationError, Worker, type TaskInfo } from '../src/index.js';
import * as queueScripts from '../src/redis/queue-scripts.js';
import { runScript } from '../src/redis/scripts.js';
import { deferred, useRedis, useScope, type TestScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

interface Spawned {
  child: ChildProcess;
  /** Resolves with the id of each task as its handler starts. */
  started: AsyncIterable<string>;
}

/** Starts `count` worker processes on `queue`; resolves once each said it runs. */
async function spawnWorkers(s: TestScope, count: number, env: Record<string, string>): Promise<Spawned[]> {
  const fixture = fileURLToPath(new URL('./fixtures/flow-worker.ts', import.meta.url));
  return Promise.all(
    Array.from({ length: count }, async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
        env: { ...process.env, REDIS_URL: redis.url, PREFIX: s.prefix, ...env },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      s.add({ close: async () => void child.kill('SIGKILL') });
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      const first = await lines.next();
      if (first.done || !String(first.value).startsWith('worker ')) throw new Error('the worker process did not start');
      async function* started(): AsyncIterable<string> {
        for (let line = await lines.next(); !line.done; line = await lines.next()) {
          if (String(line.value).startsWith('started ')) yield String(line.value).slice('started '.length);
        }
      }
      return { child, started: started() };
    }),
  );
}

/** The start time (Redis clock) of every run of these tasks: each failed run's, and the last. */
function starts(tasks: TaskInfo[]): number[] {
  return tasks.flatMap((task) => [...task.attempts.map((a) => a.startedAt ?? 0), task.startedAt ?? 0]).sort((a, b) => a - b);
}

async function gaugeMax(s: TestScope, gauge: string): Promise<Record<string, number>> {
  const raw = await s.client().hgetall(`${gauge}:max`);
  return Object.fromEntries(Object.entries(raw).map(([field, value]) => [field, Number(value)]));
}

describe('queue settings', () => {
  it('live in Redis: every Queue object of the queue reads the same, with defaults filled in', async () => {
    const s = scope();
    const queue = s.queue('configured');
    expect(await queue.settings()).toEqual({
      version: 0,
      maxWaiting: null,
      retention: { completed: { count: 1_000, maxAgeMs: 86_400_000 }, failed: { count: 10_000, maxAgeMs: 604_800_000 } },
      rateLimit: null,
      concurrency: null,
      groups: { concurrency: null, rateLimit: null },
      partitions: 1,
    });
    await queue.configure({ maxWaiting: 10_000, retention: { completed: { count: 5_000 } }, rateLimit: { max: 100, perMs: 1_000 }, concurrency: 20, groups: { concurrency: 2, rateLimit: { max: 10, perMs: 1_000 } } });
    const other = s.queue('configured');
    expect(await other.settings()).toMatchObject({
      version: 1,
      maxWaiting: 10_000,
      retention: { completed: { count: 5_000, maxAgeMs: 86_400_000 } },
      rateLimit: { max: 100, perMs: 1_000 },
      concurrency: 20,
      groups: { concurrency: 2, rateLimit: { max: 10, perMs: 1_000 } },
    });
    // A patch: what is left out stays; null removes a limit.
    expect(await other.configure({ concurrency: null, maxWaiting: 5 })).toMatchObject({ version: 2, concurrency: null, maxWaiting: 5, rateLimit: { max: 100, perMs: 1_000 } });
  });

  it('refuses every bad setting with a message naming it, and writes nothing', async () => {
    const s = scope();
    const queue = s.queue('strict');
    const bad: [unknown, RegExp][] = [
      [{ rateLimit: { max: 0, perMs: 1_000 } }, /rateLimit\.max/],
      [{ rateLimit: { max: 10 } }, /rateLimit\.perMs/],
      [{ rateLimit: { max: 10, perMs: 1_000, burst: 5 } }, /unknown option "burst" in rateLimit/],
      [{ concurrency: 1.5 }, /concurrency/],
      [{ maxWaiting: -1 }, /maxWaiting/],
      [{ retention: { completed: { count: 'all' } } }, /retention\.completed\.count/],
      [{ groups: { concurrency: 0 } }, /groups\.concurrency/],
      [{ partitions: 8, speed: 'max' }, /unknown option "speed"/],
      [{ partitions: 0 }, /partitions/],
      [{ partitions: 1000 }, /partitions/],
      [{}, /empty/],
      [null, /an object/],
    ];
    for (const [patch, message] of bad) {
      const error = await queue.configure(patch as never).catch((e: unknown) => e);
      expect(error, JSON.stringify(patch)).toBeInstanceOf(ValidationError);
      expect((error as Error).message).toMatch(message);
    }
    await expect(queue.configureGroup('g', { concurrency: -2 })).rejects.toThrow(/concurrency/);
    await expect(queue.configureGroup('bad name!', { concurrency: 2 })).rejects.toThrow(/group name/);
    expect(await s.client().keys(`${s.prefix}:*`)).toEqual([]);
  });

  it('are not options of one Queue or Worker object any more: the error says where they went', () => {
    const s = scope();
    expect(() => s.queue('old', { maxWaiting: 5 } as never)).toThrow(/queue\.configure\(\{ maxWaiting \}\)/);
    expect(() => new Worker('old', async () => 1, { retention: { completed: { count: 0 } } } as never)).toThrow(/queue\.configure\(\{ retention \}\)/);
  });

  it("give the gateway capacity too: maxWaiting is the queue's, whoever enqueues", async () => {
    const s = scope();
    await s.queue('bounded').configure({ maxWaiting: 2 });
    const producer = s.queue('bounded');
    await producer.enqueueMany([{ payload: 1 }, { payload: 2 }]);
    await expect(producer.enqueue(3)).rejects.toMatchObject({ code: 'QUEUE_FULL', maxWaiting: 2 });
    // Single enqueues in one tick share a call; a batch that does not fit is sent one by one.
    await producer.configure({ maxWaiting: 3 });
    const outcomes = await Promise.allSettled([producer.enqueue(4), producer.enqueue(5)]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected']);
  });
});

describe('limits across worker processes', () => {
  it('start at most rateLimit.max tasks in any window of rateLimit.perMs', async () => {
    const s = scope();
    const queue = s.queue<number, string>('rated');
    await queue.configure({ rateLimit: { max: 20, perMs: 500 }, retention: { completed: { count: 10_000 } } });
    const tasks = await queue.enqueueMany(Array.from({ length: 100 }, (_, i) => ({ payload: i })));
    await spawnWorkers(s, 3, { QUEUE: 'rated', CONCURRENCY: '10', MODE: 'gauge', GAUGE: `${s.prefix}:gauge` });
    await Promise.all(tasks.map((task) => task.result({ timeoutMs: 30_000 })));
    const times = starts(await queue.list('completed', { limit: 1_000 }));
    expect(times).toHaveLength(100);
    for (let i = 0; i < times.length; i++) {
      const inWindow = times.filter((t) => t >= times[i]! && t < times[i]! + 500).length;
      expect(inWindow).toBeLessThanOrEqual(20);
    }
    // 100 starts at 20 per half second need five windows: the limit really held them back.
    expect(times[99]! - times[0]!).toBeGreaterThanOrEqual(2_000);
  });

  it('keep at most `concurrency` tasks active, and take a new setting at the next claim', async () => {
    const s = scope();
    const gauge = `${s.prefix}:gauge`;
    const queue = s.queue<number, string>('capped');
    await queue.configure({ concurrency: 3 });
    const first = await queue.enqueueMany(Array.from({ length: 30 }, (_, i) => ({ payload: i })));
    await spawnWorkers(s, 3, { QUEUE: 'capped', CONCURRENCY: '10', MODE: 'gauge', HOLD_MS: '15', GAUGE: gauge });
    await Promise.all(first.map((task) => task.result({ timeoutMs: 30_000 })));
    expect((await gaugeMax(s, gauge)).all).toBe(3);
    // Raised while the workers run (idle now): no restart; the next tasks run 8 at a time.
    await queue.configure({ concurrency: 8 });
    const next = await queue.enqueueMany(Array.from({ length: 60 }, (_, i) => ({ payload: 30 + i })));
    await Promise.all(next.map((task) => task.result({ timeoutMs: 30_000 })));
    const max = (await gaugeMax(s, gauge)).all!;
    expect(max).toBeGreaterThan(3);
    expect(max).toBeLessThanOrEqual(8);
  });

  it("keep each group within its concurrency: the queue's default, or its own", async () => {
    const s = scope();
    const gauge = `${s.prefix}:gauge`;
    const queue = s.queue<number, string>('tenants');
    await queue.configure({ groups: { concurrency: 2 } });
    await queue.configureGroup('vip', { concurrency: 4 });
    const tasks = await queue.enqueueMany(
      ['a', 'b', 'vip'].flatMap((group) => Array.from({ length: 16 }, (_, i) => ({ payload: i, group }))),
    );
    await spawnWorkers(s, 3, { QUEUE: 'tenants', CONCURRENCY: '10', MODE: 'gauge', HOLD_MS: '15', GAUGE: gauge });
    await Promise.all(tasks.map((task) => task.result({ timeoutMs: 30_000 })));
    const max = await gaugeMax(s, gauge);
    expect(max.a).toBe(2);
    expect(max.b).toBe(2);
    expect(max.vip).toBe(4);
    expect(await queue.groups()).toEqual({ total: 0, groups: [] });
  });

  it("keep each group within the queue's default while ungrouped work keeps a worker busy", async () => {
    // A busy worker claims as it completes (one script for both): that path reads the
    // groups' default limits too.
    const s = scope();
    const queue = s.queue<string, string>('busy');
    await queue.configure({ groups: { concurrency: 2 } });
    await queue.enqueueMany(['a', 'b', 'c'].flatMap((group) => Array.from({ length: 60 }, () => ({ payload: group, group }))));
    await queue.enqueueMany(Array.from({ length: 1_500 }, () => ({ payload: 'none' })));
    const running = new Map<string, number>();
    const most = new Map<string, number>();
    let done = 0;
    const all = deferred();
    s.worker<string, string>('busy', async (task) => {
      const group = task.payload;
      running.set(group, (running.get(group) ?? 0) + 1);
      most.set(group, Math.max(most.get(group) ?? 0, running.get(group)!));
      if (group !== 'none') await delay(10); // the grouped tasks' work, so their slots stay taken
      running.set(group, running.get(group)! - 1);
      if (++done === 1_680) all.resolve();
      return group;
    }, { concurrency: 60 });
    await all.promise;
    expect([most.get('a'), most.get('b'), most.get('c')]).toEqual([2, 2, 2]);
  });

  it('free the slots of a SIGKILLed worker once its leases expire', async () => {
    const s = scope();
    const queue = s.queue<number, string>('killed');
    await queue.configure({ concurrency: 2 });
    const tasks = await queue.enqueueMany(Array.from({ length: 4 }, (_, i) => ({ payload: i })));
    const [hung] = await spawnWorkers(s, 1, { QUEUE: 'killed', CONCURRENCY: '5', MODE: 'hang', LEASE_MS: '1000' });
    const held: string[] = [];
    for await (const id of hung!.started) if (held.push(id) === 2) break;
    hung!.child.kill('SIGKILL');
    s.worker<number, string>('killed', async (task) => `ran ${task.payload}`, { concurrency: 5 });
    expect(await Promise.all(tasks.map((task) => task.result({ timeoutMs: 20_000 })))).toEqual(['ran 0', 'ran 1', 'ran 2', 'ran 3']);
    for (const id of held) expect((await queue.getTask(id))?.attempts.map((a) => a.error.name)).toEqual(['LeaseExpiredError']);
  });
});

describe('groups', () => {
  it('leave counts and lists once nothing of theirs waits, paused or not, and keep no rate log or passed hold', async () => {
    const s = scope();
    const queue = s.queue('tidy');
    await queue.configure({ groups: { rateLimit: { max: 5, perMs: 60_000 } } });
    const [a1] = await queue.enqueueMany([{ payload: 1, group: 'a' }]);
    const [b1, b2] = await queue.enqueueMany([{ payload: 2, group: 'b' }, { payload: 3, group: 'b' }]);
    await queue.pauseGroup('b');
    expect((await queue.counts()).groups).toBe(2);
    await queue.cancel(a1!.id);
    await queue.remove(b1!.id);
    await queue.cancel(b2!.id); // b was paused (parked): it goes too
    expect((await queue.counts()).groups).toBe(0);
    expect(await queue.groups()).toEqual({ total: 0, groups: [] });
    expect(await s.client().zcard(queue.keys.groupsParked)).toBe(0);
    expect(await s.client().llen(queue.keys.groups)).toBe(0);
    // A group's rate log expires with its window; a hold that has passed is not reported.
    await queue.enqueue(4, { group: 'c' });
    await s.client().hset(queue.keys.groupLimits, 'c|limitedUntil', '1000');
    const done = deferred();
    s.worker('tidy', async () => done.resolve());
    await done.promise;
    const ttl = await s.client().pttl(queue.keys.groupRate('c'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await s.client().hexists(queue.keys.groupLimits, 'c|limitedUntil')).toBe(0);
  });

  it("hold their limits in a worker's complete-and-claim call as in a claim (the hot path)", async () => {
    const s = scope();
    const queue = s.queue('hot-path');
    await queue.configure({ groups: { concurrency: 1, rateLimit: { max: 2, perMs: 60_000 } } });
    await queue.enqueueMany(['t1', 't2', 't3', 't4'].map((id) => ({ payload: id, id, group: 'g' })));
    const claim = { max: 10, leaseMs: 60_000 };
    const [first] = (await runScript(s.client(), queueScripts.claim(queue.keys, claim))).tasks;
    expect(first?.id).toBe('t1');
    // Its slot frees as it completes: one more may start, not all three.
    const next = await runScript(s.client(), queueScripts.completeAndClaim(queue.keys, { finished: [{ ...first!, resultJson: '' }], claim }));
    expect(next.claim.tasks.map((task) => task.id)).toEqual(['t2']);
    // The rate limit (2 starts a minute) holds there too.
    const after = await runScript(s.client(), queueScripts.completeAndClaim(queue.keys, { finished: [{ ...next.claim.tasks[0]!, resultJson: '' }], claim }));
    expect(after.claim.tasks).toEqual([]);
    expect(await queue.groups()).toMatchObject({ total: 1, groups: [{ name: 'g', waiting: 2, active: 0 }] });
  });

  it("rotate: a light group's tasks start among a heavy group's backlog, not after it", async () => {
    const s = scope();
    const queue = s.queue<number, string>('fair');
    await queue.configure({ retention: { completed: { count: 10_000 } } });
    await queue.enqueueMany(Array.from({ length: 2_000 }, (_, i) => ({ payload: i, group: 'heavy' })));
    const order: string[] = [];
    const going = deferred();
    s.worker<number, string>('fair', async (task) => {
      order.push(task.group!);
      if (order.length === 200) going.resolve();
      return 'ok';
    }, { concurrency: 10 });
    await going.promise;
    const light = await queue.enqueueMany(Array.from({ length: 100 }, (_, i) => ({ payload: i, group: 'light' })));
    await Promise.all(light.map((task) => task.result({ timeoutMs: 30_000 })));
    const firstLight = order.indexOf('light');
    const lastLight = order.lastIndexOf('light');
    const heavyBetween = order.slice(firstLight, lastLight).filter((group) => group === 'heavy').length;
    // Turn by turn: about one heavy task per light one, and the heavy backlog still there.
    expect(heavyBetween).toBeLessThanOrEqual(150);
    expect((await queue.counts()).waiting).toBeGreaterThan(1_000);
  });

  it('pause and resume one group while the others go on', async () => {
    const s = scope();
    const queue = s.queue<string, string>('paused-group');
    await queue.pauseGroup('held');
    const held = await queue.enqueue('x', { group: 'held' });
    const free = await queue.enqueue('y', { group: 'free' });
    s.worker<string, string>('paused-group', async (task) => task.payload);
    expect(await free.result({ timeoutMs: 5_000 })).toBe('y');
    expect((await queue.getTask(held.id))?.state).toBe('waiting');
    expect((await queue.groups()).groups).toMatchObject([{ name: 'held', waiting: 1, paused: true }]);
    await queue.resumeGroup('held');
    expect(await held.result({ timeoutMs: 5_000 })).toBe('x');
  });

  it('count grouped tasks as waiting, and within a group run the higher priority first', async () => {
    const s = scope();
    const queue = s.queue<string, string>('grouped');
    await queue.enqueueMany([
      { payload: 'low', group: 'g' },
      { payload: 'high', group: 'g', priority: 5 },
      { payload: 'other', group: 'h' },
      { payload: 'plain' },
    ]);
    expect(await queue.counts()).toMatchObject({ waiting: 4, groups: 2 });
    expect((await queue.list('waiting')).map((t) => t.payload)).toEqual(['plain', 'high', 'low', 'other']);
    const ran: string[] = [];
    const done = deferred();
    s.worker<string, string>('grouped', async (task) => {
      ran.push(task.payload);
      if (ran.length === 4) done.resolve();
      return task.payload;
    });
    await done.promise;
    expect(ran.indexOf('high')).toBeLessThan(ran.indexOf('low'));
  });
});

describe('RateLimitedError', () => {
  it('refuses a delay that would send the task straight back, and an unknown scope', () => {
    for (const delay of [Number.NaN, 0, -5, Number.POSITIVE_INFINITY]) {
      expect(() => new RateLimitedError(delay)).toThrow(/needs a delay of at least 1 ms/);
    }
    expect(() => new RateLimitedError(10, { scope: 'tenant' as never })).toThrow(/scope is 'queue' or 'group'/);
    expect(new RateLimitedError(250, { scope: 'group' })).toMatchObject({ delayMs: 250, scope: 'group' });
  });

  it("holds only the task's group with scope 'group', and uses no attempt", async () => {
    const s = scope();
    const queue = s.queue<string, string>('upstream');
    await queue.configure({ retention: { completed: { count: 10_000 } } });
    const limited = await queue.enqueue('x', { group: 'g1', attempts: 1 });
    let thrown = 0;
    const worker = s.worker<string, string>('upstream', async (task) => {
      if (task.payload === 'x' && thrown++ === 0) throw new RateLimitedError(400, { scope: 'group' });
      return task.payload;
    });
    const deferredOnce = new Promise<void>((resolve) => worker.once('deferred', () => resolve()));
    await deferredOnce;
    const [heldAt] = await s.client().time();
    // Other groups go on while g1 is held.
    const others = await queue.enqueueMany(Array.from({ length: 5 }, (_, i) => ({ payload: `o${i}`, group: 'g2' })));
    await Promise.all(others.map((task) => task.result({ timeoutMs: 5_000 })));
    expect(await limited.result({ timeoutMs: 5_000 })).toBe('x');
    const info = (await queue.getTask(limited.id))!;
    expect(info.attempt).toBe(1); // the held run used no attempt (attempts: 1 would have failed it)
    expect(info.attempts).toEqual([]);
    expect(info.startedAt! / 1000).toBeGreaterThanOrEqual(Number(heldAt) - 1);
    for (const task of others) expect((await queue.getTask(task.id))!.startedAt!).toBeLessThan(info.startedAt!);
  });

  it("holds the whole queue with scope 'queue' (the default)", async () => {
    const s = scope();
    const queue = s.queue<string, string>('upstream-queue');
    await queue.configure({ retention: { completed: { count: 10_000 } } });
    const first = await queue.enqueue('first');
    let thrown = 0;
    const worker = s.worker<string, string>('upstream-queue', async (task) => {
      if (task.payload === 'first' && thrown++ === 0) throw new RateLimitedError(300);
      return task.payload;
    });
    const heldSince = new Promise<number>((resolve) => worker.once('deferred', () => void s.client().time().then(([sec, us]) => resolve(Number(sec) * 1000 + Math.floor(Number(us) / 1000)))));
    const at = await heldSince;
    const later = await queue.enqueueMany(Array.from({ length: 3 }, (_, i) => ({ payload: `l${i}` })));
    await Promise.all([first, ...later].map((task) => task.result({ timeoutMs: 5_000 })));
    for (const task of [first, ...later]) expect((await queue.getTask(task.id))!.startedAt!).toBeGreaterThanOrEqual(at + 250);
  });
});

describe('a queue whose settings another process changed', () => {
  it('is read fresh at every claim: a rate limit set while a worker idles applies to its next claim', async () => {
    const s = scope();
    const queue = s.queue<number, number>('live');
    const worker = s.worker<number, number>('live', async (task) => task.payload, { concurrency: 10 });
    await (await queue.enqueue(0)).result({ timeoutMs: 5_000 }); // the worker runs, then idles
    const admin = new Queue('live', { connection: redis.url, prefix: s.prefix });
    s.add(admin);
    await admin.configure({ rateLimit: { max: 2, perMs: 60_000 }, retention: { completed: { count: 100 } } });
    const tasks = await queue.enqueueMany(Array.from({ length: 4 }, (_, i) => ({ payload: i + 1 })));
    await Promise.all(tasks.slice(0, 1).map((task) => task.result({ timeoutMs: 5_000 })));
    // Two may start in the window (the first task's start counts only once the limit was set).
    const counts = await queue.counts();
    expect(counts.waiting + counts.active).toBeGreaterThanOrEqual(2);
    await admin.configure({ rateLimit: null });
    expect(await Promise.all(tasks.map((task) => task.result({ timeoutMs: 5_000 })))).toEqual([1, 2, 3, 4]);
    void worker;
  });
});
