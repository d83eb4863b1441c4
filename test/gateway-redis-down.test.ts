import { describe, expect, it, vi } from 'vitest';
import { useRedis, useScope } from './support/fixtures.js';
import { call, useGatewayIn } from './support/gateway.js';

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
});
