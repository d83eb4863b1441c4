import { describe, expect, it } from 'vitest';
import { assertSafeListen } from '../src/gateway/auth.js';
import { startGateway } from '../src/gateway/app.js';
import { ValidationError } from '../src/index.js';
import { useRedis, useScope, type TestScope } from './support/fixtures.js';
import { call, useGatewayIn } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);

async function keysOf(s: TestScope): Promise<string[]> {
  return s.client().keys(`${s.prefix}*`);
}

describe('bad input gets its status and code, and writes nothing', () => {
  const json = { 'content-type': 'application/json' };
  const cases: [string, 'GET' | 'POST' | 'DELETE', string, unknown, Record<string, string>, number, string, RegExp][] = [
    ['an oversized body', 'POST', '/v1/queues/q/tasks', JSON.stringify({ payload: 'x'.repeat(1024 * 1024) }), json, 413, 'PAYLOAD_TOO_LARGE', /limit of 1048576 bytes/],
    ['invalid JSON', 'POST', '/v1/queues/q/tasks', '{"payload": ', json, 400, 'INVALID_ARGUMENT', /not valid JSON/],
    ['an empty JSON body', 'POST', '/v1/queues/q/tasks', '', json, 400, 'INVALID_ARGUMENT', /empty/],
    ['a body that is not JSON', 'POST', '/v1/queues/q/tasks', 'payload=1', { 'content-type': 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE', /application\/json/],
    ['a bad queue name', 'POST', '/v1/queues/bad%20name!/tasks', { payload: 1 }, {}, 400, 'INVALID_ARGUMENT', /invalid queue name/],
    ['a too long queue name', 'POST', `/v1/queues/${'q'.repeat(129)}/tasks`, { payload: 1 }, {}, 400, 'INVALID_ARGUMENT', /queue name/],
    ['a path segment over 1024 characters', 'GET', `/v1/queues/${'q'.repeat(2000)}`, undefined, {}, 400, 'INVALID_ARGUMENT', /at most 128 characters/],
    ['a malformed URL', 'GET', '/v1/queues/%zz', undefined, {}, 400, 'INVALID_ARGUMENT', /not a valid url/],
    ['an unknown field', 'POST', '/v1/queues/q/tasks', { payload: 1, retries: 3 }, {}, 400, 'INVALID_ARGUMENT', /unknown option "retries"/],
    ['a wrong type', 'POST', '/v1/queues/q/tasks', { payload: 1, priority: 'high' }, {}, 400, 'INVALID_ARGUMENT', /priority/],
    ['an out-of-range number', 'POST', '/v1/queues/q/tasks', { payload: 1, attempts: 0 }, {}, 400, 'INVALID_ARGUMENT', /attempts/],
    ['a missing payload', 'POST', '/v1/queues/q/tasks', { priority: 1 }, {}, 400, 'INVALID_ARGUMENT', /payload: required/],
    ['a body that is not an object', 'POST', '/v1/queues/q/tasks', [1, 2], {}, 400, 'INVALID_ARGUMENT', /body/],
    ['a bad runAt', 'POST', '/v1/queues/q/tasks', { payload: 1, runAt: 'tomorrow' }, {}, 400, 'INVALID_ARGUMENT', /runAt/],
    ['delayMs with runAt', 'POST', '/v1/queues/q/tasks', { payload: 1, runAt: 1, delayMs: 5 }, {}, 400, 'INVALID_ARGUMENT', /delayMs or runAt/],
    ['an all-digit chosen id', 'POST', '/v1/queues/q/tasks', { payload: 1, id: '123' }, {}, 400, 'INVALID_ARGUMENT', /reserved/],
    ['a negative wait', 'POST', '/v1/queues/q/tasks?wait=-1', { payload: 1 }, {}, 400, 'INVALID_ARGUMENT', /query: wait/],
    ['a wait that is not a number', 'GET', '/v1/queues/q/tasks/1?wait=soon', undefined, {}, 400, 'INVALID_ARGUMENT', /wait/],
    ['a wait over five minutes', 'GET', '/v1/queues/q/tasks/1?wait=300001', undefined, {}, 400, 'INVALID_ARGUMENT', /wait/],
    ['an unknown query parameter', 'GET', '/v1/queues/q/tasks/1?wiat=5', undefined, {}, 400, 'INVALID_ARGUMENT', /wiat/],
    ['a bad task id', 'DELETE', '/v1/queues/q/tasks/a%20b', undefined, {}, 400, 'INVALID_ARGUMENT', /task id/],
    ['an empty batch', 'POST', '/v1/queues/q/tasks/batch', { tasks: [] }, {}, 400, 'INVALID_ARGUMENT', /tasks/],
    ['a bad item in a batch', 'POST', '/v1/queues/q/tasks/batch', { tasks: [{ payload: 1 }, { payload: 2, delayMs: -1 }] }, {}, 400, 'INVALID_ARGUMENT', /tasks\.1\.delayMs/],
    ['an unknown state to list', 'GET', '/v1/queues/q/tasks?state=lost', undefined, {}, 400, 'INVALID_ARGUMENT', /state/],
    ['an unknown route', 'GET', '/v1/nothing', undefined, {}, 404, 'NOT_FOUND', /openapi\.json/],
  ];

  for (const [what, method, url, payload, headers, status, code, message] of cases) {
    it(`rejects ${what} with ${status} ${code}`, async () => {
      const s = scope();
      const gw = await useGatewayIn(s, redis);
      const reply = await call(gw, method, url, payload, headers);
      expect({ status: reply.status, code: reply.body?.error?.code }).toEqual({ status, code });
      expect(reply.body.error.message).toMatch(message);
      expect(Object.keys(reply.body)).toEqual(['error']);
      expect(await keysOf(s)).toEqual([]);
    });
  }

  it('checks every request whole after accepting the same queue name and body shape (the fast path)', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    for (let round = 0; round < 2; round++) {
      expect((await call(gw, 'POST', '/v1/queues/q/tasks', { payload: { n: round } })).status).toBe(201);
    }
    const refused = [
      [{ payload: 1, retries: 3 }, /unknown option "retries"/],
      [{}, /payload: required/],
      [{ payload: 1, priority: 'high' }, /priority/],
      [[1], /body/],
    ] as const;
    for (const [body, message] of refused) {
      const reply = await call(gw, 'POST', '/v1/queues/q/tasks', body);
      expect({ status: reply.status, code: reply.body?.error?.code }).toEqual({ status: 400, code: 'INVALID_ARGUMENT' });
      expect(reply.body.error.message).toMatch(message);
    }
    const badQuery = await call(gw, 'POST', '/v1/queues/q/tasks?wiat=5', { payload: 1 });
    expect(badQuery.body.error.message).toMatch(/wiat/);
    const badName = await call(gw, 'POST', '/v1/queues/bad%20name!/tasks', { payload: 1 });
    expect(badName.body.error.message).toMatch(/invalid queue name/);
    expect((await call(gw, 'GET', '/v1/queues/q/tasks?state=waiting')).body.tasks).toHaveLength(2);
  });

  it('rejects a body over a configured limit', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis, { bodyLimitBytes: 100 });
    const reply = await call(gw, 'POST', '/v1/queues/q/tasks', { payload: 'y'.repeat(200) });
    expect(reply.status).toBe(413);
    expect(reply.body.error.message).toContain('limit of 100 bytes');
    expect(await keysOf(s)).toEqual([]);
  });
});

describe('bearer-token auth', () => {
  it('with a token, refuses requests without it or with a wrong one', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis, { token: 'sesame-123' });
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 'Basic sesame-123' }] as Record<string, string>[]) {
      const reply = await call(gw, 'POST', '/v1/queues/q/tasks', { payload: 1 }, headers);
      expect(reply.status).toBe(401);
      expect(reply.body.error.code).toBe('UNAUTHORIZED');
      expect(reply.headers['www-authenticate']).toBe('Bearer');
    }
    for (const url of ['/metrics', '/openapi.json', '/v1/queues']) expect((await call(gw, 'GET', url)).status).toBe(401);
    // Nothing but the count of failed authentications from this address (the limit on guessing).
    expect(await keysOf(s)).toEqual([`${s.prefix}:gateway:auth-failures:127.0.0.1`]);
  });

  it('with a token, serves requests that carry it, and the health probes without it', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis, { token: 'sesame-123' });
    const reply = await call(gw, 'POST', '/v1/queues/q/tasks', { payload: 1 }, { authorization: 'Bearer sesame-123' });
    expect(reply.status).toBe(201);
    expect((await call(gw, 'GET', '/healthz')).status).toBe(200);
    expect((await call(gw, 'GET', '/readyz')).status).toBe(200);
  });

  it('without a token, serves everyone', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    expect((await call(gw, 'POST', '/v1/queues/q/tasks', { payload: 1 })).status).toBe(201);
  });

  it('refuses to listen beyond loopback without a token, and says why', async () => {
    const s = scope();
    await expect(startGateway({ connection: redis.url, prefix: s.prefix, host: '0.0.0.0', port: 0 })).rejects.toThrow(
      /refusing to listen on 0\.0\.0\.0 without a token.*ERRAND_TOKEN/,
    );
    expect(() => assertSafeListen('::', [])).toThrow(ValidationError);
    expect(() => assertSafeListen('0.0.0.0', [{ name: 'admin', token: 'a-token-of-16-chars' }])).not.toThrow();
    for (const host of ['127.0.0.1', '::1', 'localhost', '127.1.2.3']) expect(() => assertSafeListen(host, [])).not.toThrow();
  });

  it('rejects unknown gateway options', async () => {
    await expect(startGateway({ connection: redis.url, prot: 80 } as never)).rejects.toThrow(/unknown option "prot"/);
  });
});
