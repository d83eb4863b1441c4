/**
 * The gateway tried as an attacker would (issue 12, items 3-7, 9 and 10), over real ports
 * where the HTTP layer matters: each attack refused, and nothing written to Redis by a
 * refused request (the failed-authentication counters excepted: they are the defence).
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startGateway, type Gateway, type ListeningGateway } from '../src/gateway/app.js';
import { assertSafeListen } from '../src/gateway/auth.js';
import { globCanMatchPrefix } from '../src/broadcast/channel-namespace.js';
import { isStreamId } from '../src/broadcast/options.js';
import { Queue, ValidationError } from '../src/index.js';
import { useCli } from './support/cli.js';
import { useRedis, useScope, type TestScope } from './support/fixtures.js';
import { call, eventually, listeningIn, openEvents, useGatewayIn } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);
const cli = useCli(() => ({ url: redis.url, prefix: scope().prefix }));
const TOKEN = 'a-long-enough-gateway-token';

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

/** A request with full control of its headers (fetch will not send another Host). */
function raw(url: string, { method = 'GET', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Writes bytes on a plain socket and reads the whole answer (the HTTP server's own refusals). */
function socketExchange(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('end', () => resolve(text));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

async function keys(s: TestScope): Promise<string[]> {
  return (await s.client().keys(`${s.prefix}*`)).sort();
}

function capturedLog() {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), get text() {
    return text;
  } };
}

describe('a gateway without a token (item 3)', () => {
  it('answers /v1 only to loopback Host names: a rebound DNS name gets 403 for reads, enqueues and DELETE', async () => {
    const s = scope();
    const gw = await listeningIn(s, redis);
    const queue = s.queue('q');
    const task = await queue.enqueue(1);
    const before = await keys(s);
    const evil = { host: 'evil.example' };
    for (const [method, path, body] of [
      ['GET', '/v1/queues', undefined],
      ['GET', `/v1/queues/q/tasks/${task.id}`, undefined],
      ['POST', '/v1/queues/q/tasks', '{"payload":2}'],
      ['DELETE', `/v1/queues/q/tasks/${task.id}`, undefined],
      ['GET', '/metrics', undefined],
    ] as const) {
      const reply = await raw(`${gw.url}${path}`, { method, headers: { ...evil, 'content-type': 'application/json' }, ...(body ? { body } : {}) });
      expect([method, path, reply.status, reply.body?.error?.code]).toEqual([method, path, 403, 'FORBIDDEN']);
      expect(reply.body.error.message).toMatch(/only requests to loopback names, not "evil\.example".*ERRAND_TOKEN/);
    }
    expect(await keys(s)).toEqual(before);
    expect((await queue.getTask(task.id))?.state).toBe('waiting');
    expect((await raw(`${gw.url}/healthz`, { headers: evil })).status).toBe(200); // probes answer any name
    expect((await raw(`${gw.url}/v1/queues`, { headers: { host: `localhost:${new URL(gw.url).port}` } })).status).toBe(200);
  });

  it('refuses state-changing requests a browser sends from another site (body-less POSTs too); programs are unaffected', async () => {
    const s = scope();
    const gw = await listeningIn(s, redis);
    const host = new URL(gw.url).host;
    const attempts: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: 'http://localhost:3000' }, // another local page
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' }, // another port of this host
    ];
    for (const headers of attempts) {
      for (const [method, path, body] of [
        ['POST', '/v1/queues/q/pause', undefined],
        ['POST', '/v1/queues/q/tasks', '{"payload":1}'],
        ['POST', '/v1/channels/news/messages', '{"message":1}'],
      ] as const) {
        const reply = await raw(`${gw.url}${path}`, { method, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body } : {}) });
        expect([headers, path, reply.status]).toEqual([headers, path, 403]);
        expect(reply.body.error.message).toMatch(/^cross-site POST refused/);
      }
    }
    expect(await keys(s)).toEqual([]);
    // The gateway's own origin, and programs that send no Origin, go through.
    expect((await raw(`${gw.url}/v1/queues/q/pause`, { method: 'POST', headers: { origin: `http://${host}`, 'sec-fetch-site': 'same-origin' } })).status).toBe(200);
    expect((await raw(`${gw.url}/v1/queues/q/resume`, { method: 'POST' })).status).toBe(200);
    // Reads from another site stay readable by nobody: no CORS header is ever granted.
    const read = await raw(`${gw.url}/v1/queues`, { headers: { origin: 'http://evil.example' } });
    expect(read.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe("Errand's own channels through the public channel API (item 4)", () => {
  it('refuses raw publishes and subscriptions into the prefix (HTTP, CLI, dashboard); nothing reaches the queue events', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const eventsChannel = `${s.prefix}:{q}:events`;
    const listener = new Redis(redis.url);
    s.add({ close: async () => void listener.disconnect() });
    const heard: string[] = [];
    listener.on('pmessage', (_pattern, _channel, message: string) => heard.push(message));
    await listener.psubscribe(`${s.prefix}:*`);

    const forged = `completed|1\n{"charged":true}`;
    const publish = await call(gw, 'POST', `/v1/channels/${encodeURIComponent(eventsChannel)}/messages?raw=1`, { message: forged });
    expect(publish.status).toBe(400);
    expect(publish.body.error.message).toMatch(/Errand's own namespace/);
    for (const pattern of ['*', `${s.prefix}:*`, '*:events', `${s.prefix.slice(0, 3)}*`]) {
      const subscribe = await call(gw, 'GET', `/v1/channels/${encodeURIComponent(pattern)}/events?raw=1`);
      expect([pattern, subscribe.status]).toEqual([pattern, 400]);
    }
    const dashboard = await call(gw, 'POST', '/ui/api/publish', { target: 'channel', name: eventsChannel, raw: true, format: 'text', text: forged }, {
      'x-errand-csrf': (await call(gw, 'GET', '/ui/api/session')).body.csrf,
    });
    expect(dashboard.status).toBe(400);
    const viaCli = await cli.run(['publish', '--raw', eventsChannel, forged]);
    expect(viaCli.code).toBe(2);
    expect(viaCli.stderr).toMatch(/Errand's own namespace/);

    // The attack's aim: a waiter settled by a forged outcome. The task stays waiting, unsettled.
    const queue = s.queue('q');
    const task = await queue.enqueue({ order: 1 });
    const outcome = await Promise.race([task.result({ timeoutMs: 300 }).then(() => 'settled', (error: Error) => error.name)]);
    expect(outcome).toBe('WaitTimeoutError');
    expect(heard.filter((message) => message.includes('charged'))).toEqual([]);
    // Errand's own channels (<prefix>:ch:) stay open to raw clients, and other raw names too.
    expect((await call(gw, 'POST', `/v1/channels/${encodeURIComponent(`${s.prefix}:ch:news`)}/messages?raw=1`, { message: 'x' })).status).toBe(200);
    expect((await call(gw, 'POST', '/v1/channels/task%3Apubsub%3Achannel/messages?raw=1', { message: '7' })).status).toBe(200);
  });
});

describe('which raw patterns reach into the prefix', () => {
  it('follows Redis glob rules: *, ?, classes with ^ and ranges, escapes', () => {
    const cases: [string, boolean][] = [
      ['*', true], ['e*', true], ['err?nd:*', true], ['errand:*', true], ['[a-f]rrand*', true], ['[^e]rrand*', false],
      ['news.*', false], ['task:pubsub:*', false], ['errand:', true], ['errandx*', false], ['*:events', true],
      ['\\errand*', true], ['er*x', true], ['x*', false],
    ];
    for (const [pattern, reaches] of cases) expect([pattern, globCanMatchPrefix(pattern, 'errand:')]).toEqual([pattern, reaches]);
  });
});

describe('topic event streams (item 5)', () => {
  it('holds at most maxTopicStreams Redis connections for them; more get 503 with Retry-After, and a freed slot is taken again', async () => {
    const s = scope();
    const gw = await listeningIn(s, redis, { maxTopicStreams: 2 });
    const admin = s.client();
    const clients = async () => String(await admin.client('LIST')).trim().split('\n').length;
    const first = await openEvents(s, `${gw.url}/v1/topics/t/events?group=a`);
    const second = await openEvents(s, `${gw.url}/v1/topics/t/events?group=b`);
    expect([(await first.next())?.event, (await second.next())?.event]).toEqual(['subscribed', 'subscribed']);
    const held = await clients();
    for (let i = 0; i < 5; i++) {
      const refused = await fetch(`${gw.url}/v1/topics/t/events?group=c${i}`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_STREAMS');
    }
    expect(await clients()).toBe(held);
    const groups = ((await call(gw, 'GET', '/v1/topics/t')).body as { groups: { name: string }[] }).groups.map((g: { name: string }) => g.name);
    expect(groups).toEqual(['a', 'b']); // the refused ones joined nothing
    await first.close();
    const third = await eventually(async () => {
      const stream = await openEvents(s, `${gw.url}/v1/topics/t/events?group=d`);
      expect(stream.response.status).toBe(200);
      return stream;
    });
    expect((await third.next())?.event).toBe('subscribed');
  });
});

describe('guessing tokens (item 6)', () => {
  it('limits failed authentications per address across gateways (429 with Retry-After), the right token included while blocked', async () => {
    const s = scope();
    const options = { token: TOKEN, maxAuthFailures: 5, authFailureWindowMs: 60_000 };
    const one = await listeningIn(s, redis, options);
    const two = await listeningIn(s, redis, options);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const gw = i % 2 ? two : one;
      statuses.push((await fetch(`${gw.url}/v1/queues`, { headers: { authorization: `Bearer guess-${i}` } })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    // A guess on a dashboard page counts (and is refused) too, rather than being sent to the login form.
    expect((await fetch(`${one.url}/`, { headers: { authorization: 'Bearer guess-page' }, redirect: 'manual' })).status).toBe(429);
    const blocked = await fetch(`${one.url}/v1/queues`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await blocked.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
    const login = await fetch(`${two.url}/ui/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      body: new URLSearchParams({ token: TOKEN }),
      redirect: 'manual',
    });
    expect(login.status).toBe(429);
    expect(login.headers.get('set-cookie')).toBeNull();
    expect(await keys(s)).toEqual([`${s.prefix}:gateway:auth-failures:127.0.0.1`]);
    // Probes stay open.
    expect((await fetch(`${one.url}/healthz`)).status).toBe(200);
  });

  it('counts failed dashboard logins too', async () => {
    const s = scope();
    const gw = await listeningIn(s, redis, { token: TOKEN, maxAuthFailures: 2 });
    const attempt = (token: string) =>
      fetch(`${gw.url}/ui/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        body: new URLSearchParams({ token }),
        redirect: 'manual',
      });
    expect([(await attempt('a')).status, (await attempt('b')).status, (await attempt('c')).status, (await attempt(TOKEN)).status]).toEqual([401, 401, 429, 429]);
  });

  it('refuses a token shorter than 16 characters beyond loopback', async () => {
    await expect(startGateway({ connection: redis.url, host: '0.0.0.0', port: 0, token: 'short-token' })).rejects.toThrow(/at least 16/);
    await expect(
      startGateway({ connection: redis.url, host: '0.0.0.0', port: 0, token: TOKEN, tokens: [{ name: 'ro', token: 'tiny', scope: 'read' }] }),
    ).rejects.toThrow(/the ro token of 4 characters/);
    expect(() => assertSafeListen('10.0.0.1', [{ name: 'admin', token: 'x'.repeat(15) }])).toThrow(ValidationError);
    expect(() => assertSafeListen('10.0.0.1', [{ name: 'admin', token: 'x'.repeat(16) }])).not.toThrow();
    expect(() => assertSafeListen('127.0.0.1', [{ name: 'admin', token: 'x' }])).not.toThrow();
  });
});

/** Logs in through the form; the session cookie and its CSRF token. */
async function login(gw: Gateway, token = TOKEN) {
  const reply = await gw.app.inject({
    method: 'POST',
    url: '/ui/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
    payload: new URLSearchParams({ token }).toString(),
  });
  const cookie = String(reply.headers['set-cookie'] ?? '').split(';')[0]!;
  const session = await call(gw, 'GET', '/ui/api/session', undefined, { cookie });
  return { cookie, csrf: session.body?.csrf as string };
}

describe('logging out (item 7)', () => {
  it('ends the session on every gateway: the old cookie no longer works anywhere', async () => {
    const s = scope();
    const one = await useGatewayIn(s, redis, { token: TOKEN });
    const two = await useGatewayIn(s, redis, { token: TOKEN });
    const { cookie, csrf } = await login(one);
    const other = await login(two); // another browser, same token
    expect((await call(two, 'GET', '/ui/api/session', undefined, { cookie })).status).toBe(200);
    const out = await call(one, 'POST', '/ui/logout', undefined, { cookie, 'x-errand-csrf': csrf, 'sec-fetch-site': 'same-origin' });
    expect(out.status).toBe(200);
    for (const gw of [one, two]) {
      expect((await call(gw, 'GET', '/ui/api/session', undefined, { cookie })).status).toBe(401);
      expect((await call(gw, 'GET', '/ui/api/streams/overview', undefined, { cookie })).status).toBe(401);
      expect((await call(gw, 'GET', '/ui/api/session', undefined, { cookie: other.cookie })).status).toBe(401);
    }
    // Logging in again works.
    const again = await login(two);
    expect((await call(one, 'GET', '/ui/api/session', undefined, { cookie: again.cookie })).status).toBe(200);
  });

  it('ends an event stream the session had open, at its next heartbeat', async () => {
    const s = scope();
    const gw = await listeningIn(s, redis, { token: TOKEN, heartbeatMs: 200 });
    const { cookie, csrf } = await login(gw);
    const stream = await openEvents(s, `${gw.url}/ui/api/streams/overview`, { cookie });
    expect((await stream.next())?.event).toBe('snapshot');
    await call(gw, 'POST', '/ui/logout', undefined, { cookie, 'x-errand-csrf': csrf, 'sec-fetch-site': 'same-origin' });
    let event = await stream.next();
    while (event?.event === 'snapshot') event = await stream.next();
    expect(event).toEqual({ event: 'problem', data: { error: expect.objectContaining({ code: 'UNAUTHORIZED' }) } });
    expect(await stream.next()).toBeUndefined(); // ended
  });

  it('a token change ends the sessions made with the old token', async () => {
    const s = scope();
    const before = await useGatewayIn(s, redis, { token: TOKEN });
    const { cookie } = await login(before);
    const after = await useGatewayIn(s, redis, { token: `${TOKEN}-rotated` });
    expect((await call(after, 'GET', '/ui/api/session', undefined, { cookie })).status).toBe(401);
  });
});

describe('smaller edges (item 9)', () => {
  it('validates stream ids fully and writes nothing before: from=99999999999999999999-0 is a 400', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    for (const from of ['99999999999999999999-0', '1-99999999999999999999', '18446744073709551616']) {
      const reply = await call(gw, 'GET', `/v1/topics/t/events?group=g&from=${from}`);
      expect([from, reply.status]).toEqual([from, 400]);
    }
    expect(await keys(s)).toEqual([]);
    expect(isStreamId('18446744073709551615-18446744073709551615')).toBe(true); // the largest id Redis takes
  });

  it('caps timeoutMs at the timer maximum, forbids queues named . and .., and an empty ?wait=', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const tooLong = await call(gw, 'POST', '/v1/queues/q/tasks', { payload: 1, timeoutMs: 2 ** 31 });
    expect(tooLong.status).toBe(400);
    expect((await call(gw, 'POST', '/v1/queues/q/tasks', { payload: 1, timeoutMs: 2 ** 31 - 1 })).status).toBe(201);
    for (const name of ['%2E', '%2E%2E']) expect([400, 404]).toContain((await call(gw, 'POST', `/v1/queues/${name}/tasks`, { payload: 1 })).status);
    const viaCli = await cli.run(['enqueue', '..', '1']);
    expect([viaCli.code, viaCli.stderr]).toEqual([2, expect.stringMatching(/invalid queue name "\.\."/)]);
    expect(() => new Queue('..', { connection: redis.url })).toThrow(/"\." and "\.\." alone read as path steps/);
    const empty = await call(gw, 'POST', '/v1/queues/q/tasks?wait=', { payload: 1 });
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/wait: a whole number of ms/);
    expect((await s.queue('q').counts()).waiting).toBe(1);
  });

  it('gives bad JSON and bad URLs their own hints', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const json = await gw.app.inject({ method: 'POST', url: '/v1/queues/q/tasks', headers: { 'content-type': 'application/json' }, payload: '{"payload":' });
    expect(JSON.parse(json.body).error.message).toMatch(/send a valid JSON body/);
    const url = await call(gw, 'GET', '/v1/queues/%E0%A4%A');
    expect(url.body.error.message).toMatch(/URL-encode each path part/);
  });

  it("answers the HTTP server's own refusals (400, 431, 408) in Errand's error shape, and cuts off a body that never ends", async () => {
    const s = scope();
    const gw = await listeningIn(s, redis, { token: TOKEN, requestTimeoutMs: 500 });
    const { port } = new URL(gw.url);
    const bad = await socketExchange(gw.url, 'THIS IS NOT HTTP\r\n\r\n');
    expect(bad).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(bad.slice(bad.indexOf('\r\n\r\n') + 4)).error.code).toBe('INVALID_ARGUMENT');
    const huge = await socketExchange(gw.url, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(huge.slice(huge.indexOf('\r\n\r\n') + 4)).error.code).toBe('HEADERS_TOO_LARGE');
    // An authenticated request whose body never finishes.
    const slow = await socketExchange(
      gw.url,
      `POST /v1/queues/q/tasks HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"payload":`,
    );
    expect(slow).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(slow.slice(slow.indexOf('\r\n\r\n') + 4)).error.code).toBe('REQUEST_TIMEOUT');
    expect(await keys(s)).toEqual([]);
  });
});

describe('behind a TLS proxy (item 10)', () => {
  it('with trustProxy, sets Secure on the session cookie and HSTS over https, and logs the client address', async () => {
    const s = scope();
    const log = capturedLog();
    const gw: ListeningGateway = await listeningIn(s, redis, { token: TOKEN, trustProxy: true, logger: log.logger as never });
    const proxied = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7', 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' };
    const login = await raw(`${gw.url}/ui/login`, { method: 'POST', headers: proxied, body: new URLSearchParams({ token: TOKEN }).toString() });
    expect(login.status).toBe(303);
    expect(String(login.headers['set-cookie'])).toMatch(/; Secure$/);
    expect(login.headers['strict-transport-security']).toBe('max-age=31536000');
    const wrong = await raw(`${gw.url}/v1/queues`, { headers: { ...proxied, authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(log.text).toContain('"ip":"203.0.113.7"');
    // Plain http: no HSTS, no Secure.
    const plain = await raw(`${gw.url}/healthz`);
    expect(plain.headers['strict-transport-security']).toBeUndefined();
  });

  it('without trustProxy, believes no forwarded header', async () => {
    const s = scope();
    const gw = await listeningIn(s, redis, { token: TOKEN });
    const reply = await raw(`${gw.url}/healthz`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(reply.headers['strict-transport-security']).toBeUndefined();
  });
});
