import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startGateway } from '../src/gateway/app.js';
import { DEMO_CHANNEL, startDemoConsumers } from '../src/gateway/demo.js';
import { deferred, next, useRedis, useScope } from './support/fixtures.js';
import { eventReader } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);
const run = promisify(execFile);

/** A pino logger whose records a test can await. */
function capturedLog() {
  type Line = { msg: string; worker?: string; subscriber?: string };
  const stream = new PassThrough();
  const lines: Line[] = [];
  const waiters: { match: (line: Line) => boolean; resolve: (line: Line) => void }[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const text of chunk.toString().split('\n').filter(Boolean)) {
      const line = JSON.parse(text) as Line;
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.match(line))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  return {
    log: pino(stream),
    waitFor(match: (line: Line) => boolean): Promise<Line> {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

describe('over a real port', () => {
  it('enqueues, awaits a result and streams task events over HTTP', async () => {
    const s = scope();
    const gw = s.add(await startGateway({ connection: redis.url, prefix: s.prefix, port: 0 }));
    expect(gw.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const created = await fetch(`${gw.url}/v1/queues/smoke/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payload: { n: 20 } }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };

    const response = await fetch(`${gw.url}/v1/queues/smoke/tasks/${id}/events`);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = eventReader(response.body!);
    expect(await events.next()).toMatchObject({ event: 'state', data: { id, state: 'waiting' } });

    const release = deferred();
    const worker = s.worker<{ n: number }, number>('smoke', async (task) => {
      await release.promise;
      return task.payload.n + 1;
    });
    await next(worker, 'active');
    expect(await events.next()).toMatchObject({ event: 'state', data: { state: 'active', attempt: 1 } });
    release.resolve();
    expect(await events.next()).toMatchObject({ event: 'state', data: { state: 'completed', result: 21 } });
    expect(await events.next()).toEqual({ event: 'end', data: { reason: 'final' } });
    expect(await events.next()).toBeUndefined();

    const waited = await fetch(`${gw.url}/v1/queues/smoke/tasks?wait=10000`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payload: { n: 1 } }),
    });
    expect(await waited.json()).toMatchObject({ state: 'completed', finished: true, result: 2 });
  });

  it('ends a task stream with reason removed when the task is deleted', async () => {
    const s = scope();
    const gw = s.add(await startGateway({ connection: redis.url, prefix: s.prefix, port: 0 }));
    const queue = s.queue('rm');
    const task = await queue.enqueue('x');
    const events = eventReader((await fetch(`${gw.url}/v1/queues/rm/tasks/${task.id}/events`)).body!);
    expect(await events.next()).toMatchObject({ event: 'state', data: { state: 'waiting' } });
    await queue.remove(task.id);
    expect(await events.next()).toEqual({ event: 'end', data: { reason: 'removed' } });
  });

  it('ends open event streams when the gateway closes', async () => {
    const s = scope();
    const gw = await startGateway({ connection: redis.url, prefix: s.prefix, port: 0 });
    const task = await s.queue('open').enqueue('x');
    const events = eventReader((await fetch(`${gw.url}/v1/queues/open/tasks/${task.id}/events`)).body!);
    expect(await events.next()).toMatchObject({ event: 'state' });
    await gw.close();
    expect(await events.next()).toBeUndefined();
  });

  it('serves the demo: page, producer-consumer and publish-subscribe links, worker and subscriber logs', async () => {
    const s = scope();
    const captured = capturedLog();
    const gw = s.add(await startGateway({ connection: redis.url, prefix: s.prefix, port: 0, demo: true }));
    const consumers = s.add(await startDemoConsumers({ connection: redis.url, prefix: s.prefix, log: captured.log }));
    expect(consumers).toBeDefined();

    // The demo page is the dashboard's (its links are drawn by the client: test/dashboard-browser.test.ts).
    const page = await fetch(`${gw.url}/demo`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('<script src="/ui/assets/app.js" defer></script>');

    const prodcons = await fetch(`${gw.url}/demo/prodcons`, { redirect: 'manual' });
    expect([prodcons.status, prodcons.headers.get('location')]).toEqual([302, '/demo']);
    const got = await captured.waitFor((line) => line.worker === 'demo');
    expect(got.msg).toMatch(/^Task get [0-9]$/);
    const demoQueue = s.queue('demo');
    expect((await demoQueue.list('completed')).map((t) => typeof t.payload)).toEqual(['number']);

    const listener = s.client().duplicate();
    s.add({ close: async () => void listener.disconnect() });
    const heard = new Promise<string>((resolve) => listener.on('message', (_channel: string, message: string) => resolve(message)));
    await listener.subscribe(DEMO_CHANNEL);
    const pubsub = await fetch(`${gw.url}/demo/pubsub`, { redirect: 'manual' });
    expect([pubsub.status, pubsub.headers.get('location')]).toEqual([302, '/demo']);
    const message = await heard; // any Redis client hears the plain PUBLISH
    expect(message).toMatch(/^[0-9]$/);
    expect((await captured.waitFor((line) => line.subscriber === 'demo')).msg).toBe(`Task get ${message}`);

    // The demo channel is a plain Redis channel: redis-cli PUBLISH reaches the demo subscriber too.
    const { stdout } = await run('redis-cli', ['-p', String(redis.server.port), 'PUBLISH', DEMO_CHANNEL, '17']);
    expect(Number(stdout.trim())).toBeGreaterThanOrEqual(1);
    expect((await captured.waitFor((line) => line.subscriber === 'demo' && line.msg === 'Task get 17')).msg).toBe('Task get 17');
  });
});
