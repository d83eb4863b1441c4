import { describe, expect, it, vi } from 'vitest';
import { deferred, next, useRedis, useScope } from './support/fixtures.js';
import { call, parseSse, useGatewayIn } from './support/gateway.js';
import { UnrecoverableError } from '../src/index.js';

const redis = useRedis();
const scope = useScope(redis);

describe('tasks', () => {
  it('enqueues a task and reads it back', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const created = await call(gw, 'POST', '/v1/queues/mail/tasks', { payload: { to: 'ada' }, priority: 5, attempts: 2 });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.any(String), created: true, state: 'waiting' });
    const read = await call(gw, 'GET', `/v1/queues/mail/tasks/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: created.body.id, queue: 'mail', state: 'waiting', payload: { to: 'ada' }, priority: 5, maxAttempts: 2 });
  });

  it('says delayed for delayed tasks and returns an existing task for a dedupe key', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const delayed = await call(gw, 'POST', '/v1/queues/q/tasks', { payload: 1, delayMs: 60_000 });
    expect(delayed.body).toMatchObject({ created: true, state: 'delayed' });
    const runAt = new Date(Date.now() + 3_600_000).toISOString();
    const later = await call(gw, 'POST', '/v1/queues/q/tasks', { payload: 2, runAt });
    expect(later.body).toMatchObject({ created: true, state: 'delayed' });
    const first = await call(gw, 'POST', '/v1/queues/q/tasks', { payload: 3, dedupeKey: 'k' });
    const second = await call(gw, 'POST', '/v1/queues/q/tasks', { payload: 4, dedupeKey: 'k' });
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body).toEqual({ id: first.body.id, created: false, state: 'waiting' });
  });

  it('waits for the result with ?wait (request/reply over HTTP)', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    s.worker<{ a: number; b: number }, number>('sum', async (task) => task.payload.a + task.payload.b);
    const reply = await call(gw, 'POST', '/v1/queues/sum/tasks?wait=10000', { payload: { a: 2, b: 3 } });
    expect(reply.status).toBe(201);
    expect(reply.body).toEqual({ id: expect.any(String), created: true, state: 'completed', finished: true, result: 5 });
  });

  it('reports a failure with ?wait', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    s.worker('broken', async () => {
      throw new UnrecoverableError('no such mailbox');
    });
    const reply = await call(gw, 'POST', '/v1/queues/broken/tasks?wait=10000', { payload: null });
    expect(reply.body).toMatchObject({ state: 'failed', finished: true, error: { name: 'UnrecoverableError', message: 'no such mailbox' } });
  });

  it('times out a ?wait cleanly, saying the task has not finished', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const reply = await call(gw, 'POST', '/v1/queues/idle/tasks?wait=50', { payload: 'x' });
    expect(reply.status).toBe(201);
    expect(reply.body).toEqual({ id: expect.any(String), created: true, state: 'waiting', finished: false });
    const polled = await call(gw, 'GET', `/v1/queues/idle/tasks/${reply.body.id}?wait=50`);
    expect(polled.status).toBe(200);
    expect(polled.body).toMatchObject({ state: 'waiting' });
  });

  it('long-polls a task until it is final', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const created = await call(gw, 'POST', '/v1/queues/poll/tasks', { payload: 7 });
    const polled = call(gw, 'GET', `/v1/queues/poll/tasks/${created.body.id}?wait=10000`);
    s.worker<number, number>('poll', async (task) => task.payload * 6);
    const reply = await polled;
    expect(reply.body).toMatchObject({ id: created.body.id, state: 'completed', result: 42 });
  });

  it('enqueues a batch', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const reply = await call(gw, 'POST', '/v1/queues/bulk/tasks/batch', {
      tasks: [{ payload: 1 }, { payload: 2, priority: 3 }, { payload: 3, id: 'mine' }],
    });
    expect(reply.status).toBe(201);
    expect(reply.body.tasks).toHaveLength(3);
    expect(reply.body.tasks[2]).toEqual({ id: 'mine', created: true });
    const counts = await call(gw, 'GET', '/v1/queues/bulk');
    expect(counts.body).toMatchObject({ name: 'bulk', waiting: 3 });
    const listed = await call(gw, 'GET', '/v1/queues/bulk/tasks?state=waiting&limit=2');
    expect(listed.body.tasks.map((t: { payload: number }) => t.payload)).toEqual([2, 1]);
  });

  it('cancels and retries', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const created = await call(gw, 'POST', '/v1/queues/c/tasks', { payload: 1 });
    const url = `/v1/queues/c/tasks/${created.body.id}`;
    expect(await call(gw, 'DELETE', url)).toMatchObject({ status: 200, body: { id: created.body.id, state: 'cancelled' } });
    const again = await call(gw, 'DELETE', url);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('INVALID_STATE');
    expect(await call(gw, 'POST', `${url}/retry`)).toMatchObject({ status: 200, body: { state: 'waiting' } });
    expect((await call(gw, 'GET', url)).body.state).toBe('waiting');
  });

  it('answers 404 for a task that does not exist', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    for (const [method, url] of [
      ['GET', '/v1/queues/c/tasks/nope'],
      ['DELETE', '/v1/queues/c/tasks/nope'],
      ['POST', '/v1/queues/c/tasks/nope/retry'],
      ['GET', '/v1/queues/c/tasks/nope/events'],
    ] as const) {
      const reply = await call(gw, method, url);
      expect([method, url, reply.status, reply.body.error.code]).toEqual([method, url, 404, 'TASK_NOT_FOUND']);
    }
  });

  it("streams a task's state changes as Server-Sent Events until it is final", async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const created = await call(gw, 'POST', '/v1/queues/sse/tasks', { payload: 1 });
    const stream = gw.app.inject({ method: 'GET', url: `/v1/queues/sse/tasks/${created.body.id}/events` });
    const release = deferred();
    const worker = s.worker<number, number>('sse', async (task) => {
      await release.promise;
      return task.payload + 1;
    });
    await next(worker, 'active');
    release.resolve();
    const reply = await stream;
    expect(reply.statusCode).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = parseSse(reply.body);
    const states = events.filter((e) => e.event === 'state').map((e) => e.data.state);
    // The stream starts with the state it first reads; fast changes may be coalesced.
    expect(['waiting,active,completed', 'active,completed', 'waiting,completed', 'completed']).toContain(states.join(','));
    expect(events.at(-2)?.data).toMatchObject({ state: 'completed', result: 2 });
    expect(events.at(-1)).toEqual({ event: 'end', data: { reason: 'final' } });
  });
});

describe('queues', () => {
  it('lists queues with counts, and pauses and resumes one', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    await call(gw, 'POST', '/v1/queues/alpha/tasks', { payload: 1 });
    await call(gw, 'POST', '/v1/queues/beta/tasks', { payload: 1, delayMs: 60_000 });
    const list = await call(gw, 'GET', '/v1/queues');
    expect(list.body.queues).toEqual([
      { name: 'alpha', waiting: 1, delayed: 0, active: 0, completed: 0, failed: 0, cancelled: 0, paused: false, groups: 0, dependencies: 0 },
      { name: 'beta', waiting: 0, delayed: 1, active: 0, completed: 0, failed: 0, cancelled: 0, paused: false, groups: 0, dependencies: 0 },
    ]);
    expect(await call(gw, 'POST', '/v1/queues/alpha/pause')).toMatchObject({ status: 200, body: { name: 'alpha', paused: true } });
    expect((await call(gw, 'GET', '/v1/queues/alpha')).body.paused).toBe(true);
    expect(await call(gw, 'POST', '/v1/queues/alpha/resume')).toMatchObject({ body: { paused: false } });
    expect((await call(gw, 'GET', '/v1/queues/alpha')).body.paused).toBe(false);
  });
});

describe('health and metrics', () => {
  it('answers /healthz and /readyz', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    expect(await call(gw, 'GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await call(gw, 'GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
  });

  it('exposes Prometheus metrics: queue gauges, lifetime counters and latency histograms', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    await call(gw, 'POST', '/v1/queues/m/tasks', { payload: 1 });
    const first = await call(gw, 'GET', '/metrics');
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(first.text).toContain('errand_queue_tasks{queue="m",state="waiting"} 1');
    expect(first.text).toContain('errand_tasks_enqueued_total{queue="m"} 1');
    expect(first.text).toContain('# TYPE errand_task_latency_seconds histogram');
    expect(first.text).toMatch(/errand_http_requests_total\{method="POST",route="\/v1\/queues\/:queue\/tasks",status="201"\} 1/);

    s.worker('m', async () => 'done');
    await call(gw, 'POST', '/v1/queues/m/tasks?wait=10000', { payload: 2 });
    // The gateway records latencies from completion announcements, apart from any request.
    await vi.waitFor(async () => {
      const text = (await call(gw, 'GET', '/metrics')).text;
      expect(text).toContain('errand_tasks_completed_total{queue="m"} 2');
      expect(text).toMatch(/errand_task_latency_seconds_count\{queue="m",outcome="completed"\} [12]\n/);
      expect(text).toMatch(/errand_task_run_seconds_bucket\{le="\+Inf",queue="m",outcome="completed"\} [12]\n/); // prom-client puts le first
    });
  });
});
