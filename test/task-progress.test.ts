/**
 * What handlers report while they run, against a real Redis: progress values (stored with
 * the task for its attempt, announced to watchers in order, coalesced when reported in a
 * tight loop) and task logs (bounded in lines and bytes, the oldest dropped and counted,
 * followed as they arrive, deleted with their task by retention and remove).
 */
import { describe, expect, it } from 'vitest';
import { TASK_LOG_LIMITS } from '../src/config.js';
import { TaskNotFoundError, ValidationError, type TaskInfo, type TaskLogs } from '../src/index.js';
import { deferred, next, useRedis, useScope } from './support/fixtures.js';
import { call, listeningIn, openEvents, useGatewayIn } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);

describe('progress', () => {
  it('is seen by a watcher in the order reported, and kept with the finished task', async () => {
    const s = scope();
    const queue = s.queue<null, string>('steps');
    const task = await queue.enqueue(null);
    const watch = task.watch();
    expect((await watch.next()).value).toMatchObject({ state: 'waiting' });
    const step = [deferred(), deferred(), deferred()];
    s.worker<null, string>('steps', async (_task, context) => {
      for (const [index, value] of [25, 50, 75].entries()) {
        context.progress(value);
        await step[index]!.promise;
      }
      context.progress({ done: 'all' });
      return 'ok';
    });
    const seen: unknown[] = [];
    for (;;) {
      const { value, done } = await watch.next();
      if (done) break;
      seen.push(value.state === 'active' ? value.progress ?? 'started' : value.state);
      // Each value is awaited before the handler reports the next: none is coalesced away.
      if (typeof value.progress === 'number') step[[25, 50, 75].indexOf(value.progress)]!.resolve();
    }
    expect(seen.filter((value) => typeof value === 'number')).toEqual([25, 50, 75]);
    expect(seen.at(-1)).toBe('completed');
    // The last value reached Redis before the completion did.
    expect(await queue.getTask(task.id)).toMatchObject({ state: 'completed', progress: { done: 'all' }, result: 'ok' });
  });

  it('is coalesced: a tight loop of reports costs a few writes, the last value wins', async () => {
    const s = scope();
    const queue = s.queue<null>('loop');
    const announcements: string[] = [];
    const subscriber = s.client();
    await subscriber.subscribe(queue.keys.progress);
    subscriber.on('message', (_channel: string, message: string) => {
      if (message.startsWith('progress|')) announcements.push(message);
    });
    const task = await queue.enqueue(null);
    const worker = s.worker<null>('loop', async (_task, context) => {
      for (let i = 1; i <= 10_000; i++) context.progress(i);
    });
    await next(worker, 'completed');
    expect(await queue.getTask(task.id)).toMatchObject({ progress: 10_000 });
    await subscriber.ping(); // every announcement published before the read above has arrived
    expect(announcements).toEqual([`progress|${task.id}`]);
  });

  it('belongs to its attempt: a retry starts without one', async () => {
    const s = scope();
    const queue = s.queue<null>('again');
    const task = await queue.enqueue(null, { attempts: 2, backoff: { type: 'fixed', delayMs: 0 } });
    const second = deferred();
    const worker = s.worker<null>('again', async (t, context) => {
      if (t.attempt === 1) {
        context.progress(90);
        throw new Error('first attempt fails');
      }
      await second.promise;
    });
    await new Promise<void>((resolve) => worker.on('active', (t) => t.attempt === 2 && resolve()));
    const info = (await queue.getTask(task.id)) as TaskInfo;
    expect(info.state).toBe('active');
    expect(info).not.toHaveProperty('progress');
    second.resolve();
    await next(worker, 'completed');
  });

  it('refuses a value that is not JSON or too large, in the handler', async () => {
    const s = scope();
    const queue = s.queue<null>('bad');
    const task = await queue.enqueue(null, { attempts: 1 });
    const thrown: unknown[] = [];
    const worker = s.worker<null>('bad', async (_task, context) => {
      for (const value of [() => 1, 'x'.repeat(5_000)]) {
        try {
          context.progress(value);
        } catch (error) {
          thrown.push(error);
        }
      }
    });
    await next(worker, 'completed');
    expect(thrown).toHaveLength(2);
    expect(thrown[0]).toBeInstanceOf(ValidationError);
    expect((thrown[1] as Error).name).toBe('PayloadTooLargeError');
    expect(await queue.getTask(task.id)).not.toHaveProperty('progress');
  });
});

describe('task logs', () => {
  it('keeps timestamped lines per attempt, readable with logs()', async () => {
    const s = scope();
    const queue = s.queue<null>('logged');
    const before = Date.now();
    const task = await queue.enqueue(null, { attempts: 2, backoff: { type: 'fixed', delayMs: 0 } });
    // Destructured, as handlers do with { signal }.
    const worker = s.worker<null>('logged', async (t, { log }) => {
      log(`attempt ${t.attempt} starts`);
      if (t.attempt === 1) throw new Error('again');
      log('<b>not html</b>');
    });
    await next(worker, 'completed');
    const logs = await queue.logs(task.id);
    expect(logs.dropped).toBe(0);
    expect(logs.lines.map(({ attempt, message }) => [attempt, message])).toEqual([
      [1, 'attempt 1 starts'],
      [2, 'attempt 2 starts'],
      [2, '<b>not html</b>'],
    ]);
    for (const line of logs.lines) expect(line.at).toBeGreaterThanOrEqual(before - 1_000); // the Redis clock, this machine's
    await expect(queue.logs('nope')).rejects.toBeInstanceOf(TaskNotFoundError);
  });

  it('is bounded in lines and in bytes, the oldest dropped and counted', async () => {
    const s = scope();
    const queue = s.queue<string>('bounded');
    const many = await queue.enqueue('lines');
    const long = await queue.enqueue('bytes');
    const worker = s.worker<string>('bounded', async (t, context) => {
      if (t.payload === 'lines') for (let i = 1; i <= TASK_LOG_LIMITS.lines + 150; i++) context.log(`line ${i}`);
      else for (let i = 1; i <= 100; i++) context.log(`${i} ${'x'.repeat(5_000)}`); // each cut to lineBytes
    }, { concurrency: 2 });
    let done = 0;
    await new Promise<void>((resolve) => worker.on('completed', () => ++done === 2 && resolve()));

    const lines = await queue.logs(many.id);
    expect(lines.dropped).toBe(150);
    expect(lines.lines).toHaveLength(TASK_LOG_LIMITS.lines);
    expect(lines.lines[0]!.message).toBe('line 151');
    expect(lines.lines.at(-1)!.message).toBe(`line ${TASK_LOG_LIMITS.lines + 150}`);

    const bytes = await queue.logs(long.id);
    const stored = bytes.lines.reduce((sum, line) => sum + Buffer.byteLength(`${line.at}|${line.attempt}|${line.message}`), 0);
    expect(stored).toBeLessThanOrEqual(TASK_LOG_LIMITS.bytes);
    expect(bytes.dropped + bytes.lines.length).toBe(100);
    expect(bytes.lines.at(-1)!.message.startsWith('100 ')).toBe(true);
    expect(bytes.lines.at(-1)!.message.endsWith('…')).toBe(true);
    expect(Buffer.byteLength(bytes.lines.at(-1)!.message)).toBeLessThanOrEqual(TASK_LOG_LIMITS.lineBytes);
  });

  it('is followed as lines arrive, until the task is final', async () => {
    const s = scope();
    const queue = s.queue<null>('followed');
    const task = await queue.enqueue(null);
    const go = [deferred(), deferred()];
    s.worker<null>('followed', async (_task, context) => {
      context.log('one');
      await go[0]!.promise;
      context.log('two');
      await go[1]!.promise;
      context.log('three');
    });
    const batches: TaskLogs[] = [];
    for await (const batch of queue.followLogs(task.id)) {
      batches.push(batch);
      go[batches.length - 1]?.resolve();
    }
    expect(batches.map((batch) => batch.lines.map((line) => line.message))).toEqual([['one'], ['two'], ['three']]);
  });

  it('goes with its task: trimmed by retention, deleted by remove', async () => {
    const s = scope();
    const queue = s.queue<number>('kept');
    await queue.configure({ retention: { completed: { count: 1 } } });
    const raw = s.client();
    const first = await queue.enqueue(1);
    const worker = s.worker<number>('kept', async (t, context) => context.log(`task ${t.payload}`));
    await next(worker, 'completed');
    expect(await raw.exists(queue.keys.logs(first.id))).toBe(1);
    const second = await queue.enqueue(2);
    await next(worker, 'completed');
    expect(await raw.exists(queue.keys.logs(first.id), queue.keys.task(first.id))).toBe(0);
    await expect(queue.logs(first.id)).rejects.toBeInstanceOf(TaskNotFoundError);
    expect((await queue.logs(second.id)).lines.map((line) => line.message)).toEqual(['task 2']);
    await queue.remove(second.id);
    expect(await raw.exists(queue.keys.logs(second.id))).toBe(0);
  });
});

describe('over HTTP', () => {
  it('streams progress in order as SSE `progress` events between the task\'s states', async () => {
    const s = scope();
    const gateway = await listeningIn(s, redis);
    const queue = s.queue<null, string>('sse');
    const task = await queue.enqueue(null);
    const events = await openEvents(s, `${gateway.url}/v1/queues/sse/tasks/${task.id}/events`);
    expect(await events.next()).toMatchObject({ event: 'state', data: { state: 'waiting' } });
    const step = [deferred(), deferred()];
    s.worker<null, string>('sse', async (_task, context) => {
      context.progress(10);
      await step[0]!.promise;
      context.progress(90);
      await step[1]!.promise;
      return 'ok';
    });
    const seen: { event: string; state: string; progress: unknown }[] = [{ event: 'state', state: 'waiting', progress: undefined }];
    for (;;) {
      const event = await events.next();
      if (!event || event.event === 'end') break;
      seen.push({ event: event.event, state: event.data.state, progress: event.data.progress });
      if (event.data.progress === 10) step[0]!.resolve();
      if (event.data.progress === 90) step[1]!.resolve();
    }
    // Each value once, in order; a `progress` event exactly when the state stayed the same.
    expect([...new Set(seen.map((event) => event.progress).filter((value) => value !== undefined))]).toEqual([10, 90]);
    seen.slice(1).forEach((event, i) => expect(event.event).toBe(event.state === seen[i]!.state ? 'progress' : 'state'));
    expect(seen.at(-1)).toEqual({ event: 'state', state: 'completed', progress: 90 });
    expect((await queue.getTask(task.id))!.state).toBe('completed');
  });

  it('reads a task\'s log with GET /v1/queues/:queue/tasks/:id/logs', async () => {
    const s = scope();
    const gateway = await useGatewayIn(s, redis);
    const queue = s.queue<null>('http-logs');
    const task = await queue.enqueue(null);
    const worker = s.worker<null>('http-logs', async (_task, context) => context.log('from the handler'));
    await next(worker, 'completed');
    const reply = await call(gateway, 'GET', `/v1/queues/http-logs/tasks/${task.id}/logs`);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ id: task.id, queue: 'http-logs', dropped: 0, lines: [{ attempt: 1, message: 'from the handler' }] });
    expect((await call(gateway, 'GET', '/v1/queues/http-logs/tasks/none/logs')).body.error.code).toBe('TASK_NOT_FOUND');
  });
});
