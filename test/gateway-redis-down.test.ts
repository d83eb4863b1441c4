import { describe, expect, it, vi } from 'vitest';
import { useRedis, useScope } from './support/fixtures.js';
import { startGateway } from '../src/gateway/app.js';
import { call, openEvents, useGatewayIn } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);

describe('Redis stopped and started again', () => {
  it('answers 503 at once while Redis is down, never a hung request, and recovers when it is back', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const before = await call(gw, 'POST', '/v1/queues/q/tasks', { payload: 1 });
    expect(before.status).toBe(201);
    // The results and task-event subscriptions exist before the outage, as in a running gateway.
    expect((await call(gw, 'POST', '/v1/queues/q/tasks?wait=10', { payload: 0 })).status).toBe(201);

    await redis.server.stop({ keepDir: true });
    try {
      // Each ?wait here is longer than the test's timeout: only failing fast can pass.
      const requests: [string, 'GET' | 'POST' | 'DELETE', string, unknown?][] = [
        ['readiness', 'GET', '/readyz'],
        ['queue list', 'GET', '/v1/queues'],
        ['queue counts', 'GET', '/v1/queues/q'],
        ['enqueue', 'POST', '/v1/queues/q/tasks', { payload: 2 }],
        ['enqueue on a queue never used', 'POST', '/v1/queues/fresh/tasks', { payload: 2 }],
        ['enqueue and wait', 'POST', '/v1/queues/q/tasks?wait=60000', { payload: 3 }],
        ['long-poll', 'GET', `/v1/queues/q/tasks/${before.body.id}?wait=60000`],
        ['task events', 'GET', `/v1/queues/q/tasks/${before.body.id}/events`],
        ['cancel', 'DELETE', `/v1/queues/q/tasks/${before.body.id}`],
        ['pause', 'POST', '/v1/queues/q/pause'],
        ['metrics', 'GET', '/metrics'],
      ];
      for (const [what, method, url, payload] of requests) {
        const reply = await call(gw, method, url, payload);
        expect([what, reply.status, reply.body?.error?.code]).toEqual([what, 503, 'REDIS_UNAVAILABLE']);
        expect(reply.body.error.message).toMatch(/Redis is unavailable.*REDIS_URL/);
      }
      expect((await call(gw, 'GET', '/healthz')).status).toBe(200);
    } finally {
      await redis.server.restart();
    }

    await vi.waitFor(async () => expect((await call(gw, 'GET', '/readyz')).status).toBe(200), { timeout: 10_000, interval: 50 });
    s.worker<number, number>('q', async (task) => task.payload * 10);
    const after = await call(gw, 'POST', '/v1/queues/q/tasks?wait=10000', { payload: 4 });
    expect(after.body).toMatchObject({ state: 'completed', result: 40 });
    expect((await call(gw, 'GET', '/v1/queues/q')).status).toBe(200);
  });

  it('answers 503 at once on the channel and topic routes too, and open broadcast streams come back with Redis', async () => {
    const s = scope();
    const gw = s.add(await startGateway({ connection: redis.url, prefix: s.prefix, port: 0 }));
    // Streams open before the outage (so their connections exist), as in a running gateway.
    const channel = await openEvents(s, `${gw.url}/v1/channels/news/events`);
    const raw = await openEvents(s, `${gw.url}/v1/channels/task:pubsub:channel/events?raw=1`);
    const topic = await openEvents(s, `${gw.url}/v1/topics/t/events?group=g`);
    for (const events of [channel, raw, topic]) expect((await events.next())?.event).toBe('subscribed');
    expect((await call(gw, 'POST', '/v1/topics/t/messages', { message: 0 })).status).toBe(201);
    expect(await topic.next()).toMatchObject({ event: 'message', data: { message: 0 } });

    await redis.server.stop({ keepDir: true });
    try {
      const requests: [string, 'GET' | 'POST', string, unknown?][] = [
        ['channel publish', 'POST', '/v1/channels/news/messages', { message: 1 }],
        ['raw channel publish', 'POST', '/v1/channels/task:pubsub:channel/messages?raw=1', { message: '1' }],
        ['channel events', 'GET', '/v1/channels/news/events'],
        ['raw channel events', 'GET', '/v1/channels/other/events?raw=1'],
        ['pattern events', 'GET', '/v1/channels/news.*/events'],
        ['topic publish', 'POST', '/v1/topics/t/messages', { message: 1 }],
        ['topic batch', 'POST', '/v1/topics/t/messages/batch', { messages: [1, 2] }],
        ['topic publish on a topic never used', 'POST', '/v1/topics/fresh/messages', { message: 1 }],
        ['topic list', 'GET', '/v1/topics'],
        ['topic info', 'GET', '/v1/topics/t'],
        ['dead letters', 'GET', '/v1/topics/t/dead-letters'],
        ['topic events', 'GET', '/v1/topics/t/events?group=g'],
        ['topic events of a new group', 'GET', '/v1/topics/t/events?group=new-group&from=earliest'],
      ];
      for (const [what, method, url, payload] of requests) {
        const started = Date.now();
        const reply = await call(gw, method, url, payload);
        expect([what, reply.status, reply.body?.error?.code]).toEqual([what, 503, 'REDIS_UNAVAILABLE']);
        expect(reply.body.error.message).toMatch(/Redis is unavailable.*REDIS_URL/);
        // The promise is "within a second" (redisTimeoutMs is 900 ms); the test's own timeout is the backstop.
        expect([what, Date.now() - started < 2_000]).toEqual([what, true]);
      }
    } finally {
      await redis.server.restart();
    }

    // The open streams are still there: the channel ones say they are back, and all carry new messages.
    expect(await channel.next()).toEqual({ event: 'resubscribed', data: { channel: 'news' } });
    expect(await raw.next()).toEqual({ event: 'resubscribed', data: { channel: 'task:pubsub:channel' } });
    await vi.waitFor(async () => expect((await call(gw, 'GET', '/readyz')).status).toBe(200), { timeout: 10_000, interval: 50 });
    expect((await call(gw, 'POST', '/v1/channels/news/messages', { message: 2 })).body.receivers).toBe(1);
    expect(await channel.next()).toMatchObject({ event: 'message', data: { message: 2 } });
    expect((await call(gw, 'POST', '/v1/channels/task:pubsub:channel/messages?raw=1', { message: '3' })).body.receivers).toBe(1);
    expect(await raw.next()).toMatchObject({ event: 'message', data: { message: '3' } });
    expect((await call(gw, 'POST', '/v1/topics/t/messages', { message: 4 })).status).toBe(201);
    expect(await topic.next()).toMatchObject({ event: 'message', data: { message: 4 } });
  });
});
