import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LeaseLostError, type ActiveTask } from '../src/index.js';
import { QueueKeys } from '../src/redis/keys.js';
import { deferred, next, useRedis, useScope, type TestScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

/** Test helper: makes a lease's deadline pass now, as a stalled worker's would. */
async function forceLeaseExpiry(s: TestScope, queue: string, id: string): Promise<void> {
  await s.client().zadd(new QueueKeys(s.prefix, queue).active, 'XX', 0, id);
}

describe('stale lease holders', () => {
  it('refuses the completion of a worker whose lease expired and was taken over', async () => {
    const s = scope();
    const queue = s.queue<string, string>('stale');
    const holdA = deferred();
    const startedA = deferred<ActiveTask>();
    // A's heartbeat is far away, so only the forced expiry ends its lease.
    const a = s.worker<string, string>(
      'stale',
      async (task) => {
        startedA.resolve(task);
        await holdA.promise;
        return 'from A';
      },
      { leaseMs: 60_000 },
    );
    const task = await queue.enqueue('x');
    await startedA.promise;
    await forceLeaseExpiry(s, 'stale', task.id);

    const b = s.worker<string, string>('stale', async (t) => `from B, attempt ${t.attempt}`);
    await expect(task.result({ timeoutMs: 5_000 })).resolves.toBe('from B, attempt 2');
    const before = await queue.getTask(task.id);

    const lost = next<[ActiveTask, LeaseLostError]>(a, 'lost');
    holdA.resolve();
    const [lostTask, error] = await lost;
    expect(lostTask.id).toBe(task.id);
    expect(error).toBeInstanceOf(LeaseLostError);
    expect(await queue.getTask(task.id)).toEqual(before);
    expect(before).toMatchObject({ state: 'completed', result: 'from B, attempt 2', attempt: 2 });
    expect(before?.attempts[0]?.error.name).toBe('LeaseExpiredError');
    await b.close();
  });

  it('dead-letters a task whose last attempt expired', async () => {
    const s = scope();
    const queue = s.queue('stalls');
    const started = deferred();
    const hold = deferred();
    s.worker(
      'stalls',
      async () => {
        started.resolve();
        await hold.promise;
      },
      { leaseMs: 60_000 },
    );
    const task = await queue.enqueue('x', { attempts: 1 });
    await started.promise;
    await forceLeaseExpiry(s, 'stalls', task.id);
    s.worker('stalls', async () => 'never runs');
    const error = await task.result({ timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TASK_FAILED', error: { name: 'LeaseExpiredError' } });
    hold.resolve();
  });
});

describe('lease holders', () => {
  it('names the worker holding an active task, from its heartbeat', async () => {
    const s = scope();
    const queue = s.queue('held');
    const started = deferred();
    const hold = deferred();
    const worker = s.worker('held', async () => {
      started.resolve();
      await hold.promise;
    });
    const task = await queue.enqueue('x');
    await started.promise;
    // Test helper: a heartbeat now, instead of waiting for the next one.
    await (worker as unknown as { beat(): Promise<void> }).beat();
    expect((await queue.getTask(task.id))?.worker).toBe(worker.id);
    expect((await queue.list('active')).map((t) => t.worker)).toEqual([worker.id]);
    expect((await queue.workers()).map((w) => [w.id, w.tasks])).toEqual([[worker.id, [task.id]]]);
    hold.resolve();
    await task.result({ timeoutMs: 5_000 });
    expect((await queue.getTask(task.id))?.worker).toBeUndefined();
  });
});

describe('graceful close', () => {
  it('lets running handlers finish and records their results', async () => {
    const s = scope();
    const queue = s.queue('closing');
    const hold = deferred();
    let started = 0;
    const allStarted = deferred();
    const worker = s.worker(
      'closing',
      async (task) => {
        if (++started === 2) allStarted.resolve();
        await hold.promise;
        return task.payload;
      },
      { concurrency: 2 },
    );
    const tasks = await queue.enqueueMany([{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
    await allStarted.promise;
    const closed = worker.close({ timeoutMs: 10_000 });
    hold.resolve();
    await closed;
    expect(await Promise.all(tasks.slice(0, 2).map((t) => t.result({ timeoutMs: 1_000 })))).toEqual([1, 2]);
    expect(await queue.counts()).toMatchObject({ waiting: 1, active: 0, completed: 2 });
  });

  it('releases the leases of handlers still running at the deadline, without counting an attempt', async () => {
    const s = scope();
    const queue = s.queue('deadline');
    const started = deferred();
    const reasons: string[] = [];
    const worker = s.worker('deadline', async (_task, { signal }) => {
      started.resolve();
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      reasons.push((signal.reason as Error).name);
    });
    const task = await queue.enqueue('x');
    await started.promise;
    const firstStart = (await queue.getTask(task.id))!.startedAt!;
    await worker.close({ timeoutMs: 50 });
    expect(reasons).toEqual(['ClosedError']);
    const info = await queue.getTask(task.id);
    expect(info).toMatchObject({ state: 'waiting', attempt: 0 });
    expect(info?.worker).toBeUndefined();
    const other = s.worker('deadline', async () => 'second worker');
    await expect(task.result({ timeoutMs: 5_000 })).resolves.toBe('second worker');
    // The start time is the fencing token: each claim's is later than the one before.
    expect((await queue.getTask(task.id))!.startedAt!).toBeGreaterThan(firstStart);
    await other.close();
  });
});

describe('closing an idle worker', () => {
  it('leaves no task leased to it, even when work arrives as it closes', async () => {
    const s = scope();
    const queue = s.queue<number, number>('idle-close');
    const blockedOnWake = async () => {
      // The idle wait is a BZPOPMIN on its own connection (with a claim pipelined behind it).
      while (!/ cmd=bzpopmin /.test((await s.client().client('LIST')) as string)) {
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const tasks = [];
    for (let round = 0; round < 10; round++) {
      const worker = s.worker<number, number>('idle-close', async (task) => task.payload);
      await blockedOnWake();
      // Round by round, the enqueue lands before, during or after the close's unblocking.
      const enqueued = queue.enqueue(round);
      if (round % 2) await new Promise((resolve) => setImmediate(resolve));
      await worker.close({ timeoutMs: 5_000 });
      tasks.push(await enqueued);
      const counts = await queue.counts();
      expect(counts).toMatchObject({ active: 0, failed: 0 });
      expect(counts.waiting + counts.completed).toBe(round + 1);
    }
    // Whatever was left waiting runs for the next worker, at once (no lease had to expire).
    s.worker<number, number>('idle-close', async (task) => task.payload);
    await expect(Promise.all(tasks.map((task) => task.result({ timeoutMs: 5_000 })))).resolves.toEqual([...Array(10).keys()]);
  });
});

describe('a connection option with a command timeout', () => {
  it('does not apply to the idle wait: work enqueued after a long idle still runs at once', async () => {
    const s = scope();
    const url = new URL(redis.url);
    const queue = s.queue<number, number>('timeout');
    s.worker<number, number>('timeout', async (task) => task.payload + 1, {
      connection: { host: url.hostname, port: Number(url.port), commandTimeout: 100 },
    });
    // No event marks "idle for longer than the command timeout": wait that long on a timer.
    await new Promise((resolve) => setTimeout(resolve, 400));
    const task = await queue.enqueue(1, { attempts: 1 });
    await expect(task.result({ timeoutMs: 5_000 })).resolves.toBe(2);
  });
});

describe('a worker process killed mid-run', () => {
  it('loses nothing: every task completes once, and only the killed worker\'s tasks ran twice', async () => {
    const s = scope();
    const total = 2_000;
    const queue = s.queue<number, string>('crash');
    await queue.configure({ retention: { completed: { count: 100_000 } } });
    const tasks = await queue.enqueueMany(Array.from({ length: total }, (_, i) => ({ payload: i })));
    const runsKey = `${s.prefix}:test-runs`;
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/crash-worker.ts', import.meta.url))], {
      env: { ...process.env, REDIS_URL: redis.url, PREFIX: s.prefix, QUEUE: 'crash', CONCURRENCY: '10', LEASE_MS: '1000', RUNS_KEY: runsKey },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    s.add({ close: async () => void child.kill('SIGKILL') });

    // Kill it once it has done a good share of the work, with leases in hand.
    let workerId = '';
    for await (const line of createInterface({ input: child.stdout! })) {
      if (line.startsWith('worker ')) workerId = line.slice('worker '.length);
      if (line.startsWith('done ') && Number(line.slice(5)) >= 400) break;
    }
    child.kill('SIGKILL');
    await exited;

    const client = s.client();
    const keys = new QueueKeys(s.prefix, 'crash');
    // The killed worker was the only one: every task still active is one it held.
    const heldByKilled = new Set((await queue.list('active', { limit: 1_000 })).map((task) => task.id));
    expect(heldByKilled.size).toBeGreaterThan(0);
    expect(workerId).not.toBe('');

    s.worker<number, string>('crash', async (task) => {
      await client.hincrby(runsKey, task.id, 1);
      return task.id;
    }, { concurrency: 10, leaseMs: 1_000 });
    const results = await Promise.all(tasks.map((task) => task.result({ timeoutMs: 60_000 })));
    expect(results).toEqual(tasks.map((task) => task.id));

    const completed = await client.lrange(keys.completed, 0, -1);
    expect(completed).toHaveLength(total);
    expect(new Set(completed).size).toBe(total);
    const runs = await client.hgetall(runsKey);
    expect(Object.keys(runs)).toHaveLength(total);
    const ranTwice = Object.entries(runs).filter(([, n]) => Number(n) > 1).map(([id]) => id);
    for (const id of ranTwice) expect(heldByKilled.has(id)).toBe(true);
    for (const id of heldByKilled) {
      const info = await queue.getTask(id);
      expect(info?.attempts.map((a) => a.error.name)).toEqual(['LeaseExpiredError']);
    }
    expect(await queue.counts()).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0, completed: total });
  });
});
