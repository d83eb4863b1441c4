/**
 * Flow control over HTTP: a queue's settings read and patched (validated, nothing written
 * when refused), the capacity every producer shares (429 QUEUE_FULL), grouped enqueues, and
 * a queue's groups listed, limited, paused and resumed.
 */
import { describe, expect, it } from 'vitest';
import { useRedis, useScope } from './support/fixtures.js';
import { call, useGatewayIn } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);

describe('queue settings over HTTP', () => {
  it('reads and patches them; a change answers with the settings in force', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const read = await call(gw, 'GET', '/v1/queues/mail/settings');
    expect(read).toMatchObject({ status: 200, body: { version: 0, maxWaiting: null, concurrency: null, rateLimit: null } });
    const patched = await call(gw, 'PATCH', '/v1/queues/mail/settings', { rateLimit: { max: 100, perMs: 1_000 }, concurrency: 20, groups: { concurrency: 2 } });
    expect(patched).toMatchObject({ status: 200, body: { version: 1, rateLimit: { max: 100, perMs: 1_000 }, concurrency: 20, groups: { concurrency: 2, rateLimit: null } } });
    expect((await s.queue('mail').settings()).concurrency).toBe(20);
  });

  it('refuses a bad change with 400 naming the field, writing nothing', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    for (const body of [{ rateLimit: { max: 0, perMs: 1_000 } }, { concurrency: 'many' }, { nope: 1 }, {}]) {
      const reply = await call(gw, 'PATCH', '/v1/queues/mail/settings', body);
      expect([JSON.stringify(body), reply.status, reply.body.error.code]).toEqual([JSON.stringify(body), 400, 'INVALID_ARGUMENT']);
    }
    expect(await s.client().keys(`${s.prefix}:*`)).toEqual([]);
  });

  it("gives every producer the queue's capacity: 429 QUEUE_FULL over HTTP", async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    await call(gw, 'PATCH', '/v1/queues/bounded/settings', { maxWaiting: 1 });
    expect((await call(gw, 'POST', '/v1/queues/bounded/tasks', { payload: 1 })).status).toBe(201);
    const full = await call(gw, 'POST', '/v1/queues/bounded/tasks', { payload: 2 });
    expect([full.status, full.body.error.code]).toEqual([429, 'QUEUE_FULL']);
  });
});

describe('groups over HTTP', () => {
  it('enqueues into a group, lists groups by backlog, limits, pauses and resumes one', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    for (const group of ['a', 'a', 'b']) expect((await call(gw, 'POST', '/v1/queues/tenants/tasks', { payload: 1, group })).status).toBe(201);
    const bad = await call(gw, 'POST', '/v1/queues/tenants/tasks', { payload: 1, group: 'no spaces' });
    expect(bad.status).toBe(400);
    expect((await call(gw, 'PATCH', '/v1/queues/tenants/groups/a/settings', { concurrency: 5 })).status).toBe(200);
    expect((await call(gw, 'POST', '/v1/queues/tenants/groups/b/pause')).body).toEqual({ queue: 'tenants', group: 'b', paused: true });
    const listed = await call(gw, 'GET', '/v1/queues/tenants/groups?limit=10');
    expect(listed.body).toEqual({
      total: 2,
      groups: [
        { name: 'a', waiting: 2, active: 0, paused: false, limits: { concurrency: 5 } },
        { name: 'b', waiting: 1, active: 0, paused: true, limits: {} },
      ],
    });
    expect((await call(gw, 'GET', '/v1/queues/tenants')).body).toMatchObject({ waiting: 3, groups: 2 });
    expect((await call(gw, 'POST', '/v1/queues/tenants/groups/b/resume')).body).toMatchObject({ paused: false });
    const badLimit = await call(gw, 'PATCH', '/v1/queues/tenants/groups/a/settings', { concurrency: 0 });
    expect(badLimit.status).toBe(400);
  });
});
