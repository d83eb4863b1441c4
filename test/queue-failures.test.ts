import { describe, expect, it } from 'vitest';
import {
  RetryAfterError,
  TaskFailedError,
  UnrecoverableError,
  type ActiveTask,
} from '../src/index.js';
import { backoffDelayMs } from '../src/queue/backoff.js';
import { deferred, next, useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const noWait = { type: 'fixed', delayMs: 0 } as const;

describe('retries', () => {
  it('retries a failing task until it succeeds, recording each failed attempt', async () => {
    const s = scope();
    const queue = s.queue<string, string>('flaky');
    const worker = s.worker<string, string>('flaky', async (task) => {
      if (task.attempt < 3) throw new Error(`boom ${task.attempt}`);
      return `ok on ${task.attempt}`;
    });
    const retries: boolean[] = [];
    worker.on('failed', (_task, _error, willRetry) => retries.push(willRetry));
    const task = await queue.enqueue('x', { attempts: 3, backoff: noWait });
    await expect(task.result({ timeoutMs: 5_000 })).resolves.toBe('ok on 3');
    expect(retries).toEqual([true, true]);
    const info = await queue.getTask(task.id);
    expect(info?.attempt).toBe(3);
    expect(info?.attempts.map((a) => [a.attempt, a.error.message])).toEqual([
      [1, 'boom 1'],
      [2, 'boom 2'],
    ]);
  });

  it('dead-letters a task after its last attempt, with every error', async () => {
    const s = scope();
    const queue = s.queue('doomed');
    s.worker('doomed', async (task: ActiveTask) => {
      throw new TypeError(`bad ${task.attempt}`);
    });
    const task = await queue.enqueue('x', { attempts: 2, backoff: noWait });
    const failure = await task.result({ timeoutMs: 5_000 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TaskFailedError);
    expect((failure as TaskFailedError).error).toMatchObject({ name: 'TypeError', message: 'bad 2' });
    const info = await queue.getTask(task.id);
    expect(info).toMatchObject({ state: 'failed', attempt: 2, error: { name: 'TypeError', message: 'bad 2' } });
    expect(info?.attempts).toHaveLength(2);
    expect(info?.attempts[0]?.error.stack).toContain('TypeError: bad 1');
    expect(await queue.counts()).toMatchObject({ failed: 1, waiting: 0, delayed: 0, active: 0 });
    expect((await queue.list('failed')).map((t) => t.id)).toEqual([task.id]);
  });

  it('skips remaining attempts on UnrecoverableError', async () => {
    const s = scope();
    const queue = s.queue('unrecoverable');
    let runs = 0;
    s.worker('unrecoverable', async () => {
      runs++;
      throw new UnrecoverableError('the account is gone');
    });
    const task = await queue.enqueue('x', { attempts: 5, backoff: noWait });
    await expect(task.result({ timeoutMs: 5_000 })).rejects.toBeInstanceOf(TaskFailedError);
    expect(runs).toBe(1);
    expect((await queue.getTask(task.id))?.attempt).toBe(1);
  });

  it('waits the backoff between attempts, on the server clock', async () => {
    const s = scope();
    const queue = s.queue('backoff');
    s.worker('backoff', async (task) => {
      if (task.attempt === 1) throw new Error('first');
      return 'second';
    });
    const task = await queue.enqueue('x', { attempts: 2, backoff: { type: 'fixed', delayMs: 250 } });
    await task.result({ timeoutMs: 5_000 });
    const info = await queue.getTask(task.id);
    const failedAt = info!.attempts[0]!.finishedAt;
    expect(info!.startedAt! - failedAt).toBeGreaterThanOrEqual(250);
  });

  it('lets a handler choose the retry delay with RetryAfterError', async () => {
    const s = scope();
    const queue = s.queue('retry-after');
    const worker = s.worker('retry-after', async (task) => {
      if (task.attempt === 1) throw new RetryAfterError(60_000);
      return 'never';
    });
    const failed = next(worker, 'failed');
    const task = await queue.enqueue('x', { attempts: 2, backoff: noWait });
    await failed;
    const info = await queue.getTask(task.id);
    expect(info?.state).toBe('delayed');
    expect(info!.runAt! - info!.attempts[0]!.finishedAt).toBe(60_000);
  });

  it('computes fixed and exponential backoff with caps and jitter', () => {
    expect(backoffDelayMs(1, { type: 'fixed', delayMs: 100 })).toBe(100);
    expect(backoffDelayMs(5, { type: 'fixed', delayMs: 100 })).toBe(100);
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, { type: 'exponential', delayMs: 100 }))).toEqual([100, 200, 400, 800]);
    expect(backoffDelayMs(10, { type: 'exponential', delayMs: 100, maxDelayMs: 1_000 })).toBe(1_000);
    expect(backoffDelayMs(1, { type: 'fixed', delayMs: 1_000, jitter: 0.5 }, () => 1)).toBe(500);
    expect(backoffDelayMs(1, { type: 'fixed', delayMs: 1_000, jitter: 0.5 }, () => 0)).toBe(1_000);
  });
});

describe('timeouts', () => {
  it('aborts a handler past timeoutMs and counts the attempt as failed', async () => {
    const s = scope();
    const queue = s.queue('slow');
    const reasons: string[] = [];
    s.worker('slow', async (task, { signal }) => {
      if (task.attempt === 2) return 'fast enough';
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      reasons.push((signal.reason as Error).name);
      return 'too late';
    });
    const task = await queue.enqueue('x', { attempts: 2, timeoutMs: 100, backoff: noWait });
    await expect(task.result({ timeoutMs: 5_000 })).resolves.toBe('fast enough');
    expect(reasons).toEqual(['HandlerTimeoutError']);
    const info = await queue.getTask(task.id);
    expect(info?.attempts[0]?.error).toMatchObject({ name: 'HandlerTimeoutError' });
  });

  it('keeps the slot busy until a handler that ignores its signal returns', async () => {
    const s = scope();
    const queue = s.queue('stubborn');
    const release = deferred();
    const started: string[] = [];
    const worker = s.worker(
      'stubborn',
      async (task) => {
        started.push(task.id);
        if (started.length === 1) await release.promise; // ignores the abort
        return 'ok';
      },
      { concurrency: 1 },
    );
    const first = await queue.enqueue('a', { attempts: 1, timeoutMs: 50 });
    const failed = next(worker, 'failed');
    await first.result({ timeoutMs: 5_000 }).catch(() => {});
    await failed;
    await queue.enqueue('b');
    // The second task waits: the only slot is still held by the first handler.
    expect(worker.running).toBe(1);
    expect(started).toHaveLength(1);
    const completed = next(worker, 'completed');
    release.resolve();
    await completed;
    expect(started).toHaveLength(2);
  });
});

describe('results that cannot be stored', () => {
  it('fails the task without retrying when the result is not JSON', async () => {
    const s = scope();
    const queue = s.queue('bad-result');
    s.worker('bad-result', async () => new Map([[1, 2]]));
    const task = await queue.enqueue('x', { attempts: 3 });
    const error = (await task.result({ timeoutMs: 5_000 }).catch((e: unknown) => e)) as TaskFailedError;
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error.error.message).toMatch(/result is not JSON-serializable/);
    expect((await queue.getTask(task.id))?.attempt).toBe(1);
  });

  it('fails the task when the handler returns a result over maxResultBytes', async () => {
    const s = scope();
    const queue = s.queue('big-result');
    s.worker('big-result', async () => 'x'.repeat(200), { maxResultBytes: 100 });
    const task = await queue.enqueue('x');
    const error = (await task.result({ timeoutMs: 5_000 }).catch((e: unknown) => e)) as TaskFailedError;
    expect(error.error.message).toMatch(/over the limit of 100 bytes/);
  });
});
