import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startGateway, type ListeningGateway } from '../src/gateway/app.js';
import type { GatewayOptions } from '../src/gateway/options.js';
import { Broadcast } from '../src/index.js';
import { useRedis, useScope, type TestScope } from './support/fixtures.js';
import { call, eventually, expectRefused, listeningIn, openEvents } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);
const run = promisify(execFile);

const listening = (s: TestScope, options: GatewayOptions = {}): Promise<ListeningGateway> => listeningIn(s, redis, options);

/** Opens a channel stream and waits for its `subscribed` event (Redis confirmed the subscription). */
async function subscribed(s: TestScope, gw: ListeningGateway, path: string, headers: Record<string, string> = {}) {
  const events = await openEvents(s, `${gw.url}${path}`, headers);
  expect(events.response.status).toBe(200);
  expect(events.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  expect((await events.next())?.event).toBe('subscribed');
  return events;
}

describe('live channels over HTTP', () => {
  it('streams messages published over HTTP on an Errand JSON channel', async () => {
    const s = scope();
    const gw = await listening(s);
    const events = await subscribed(s, gw, '/v1/channels/news/events');
    const published = await call(gw, 'POST', '/v1/channels/news/messages', { message: { title: 'hello', n: [1, 2] } });
    expect(published).toMatchObject({ status: 200, body: { channel: 'news', receivers: 1 } });
    expect(await events.next()).toEqual({ event: 'message', data: { channel: 'news', message: { title: 'hello', n: [1, 2] } } });
    await call(gw, 'POST', '/v1/channels/news/messages', { message: null });
    expect(await events.next()).toEqual({ event: 'message', data: { channel: 'news', message: null } });
  });

  it('shares JSON channels with the library: prefixed names, JSON both ways', async () => {
    const s = scope();
    const gw = await listening(s);
    const bus = s.add(new Broadcast({ connection: redis.url, prefix: s.prefix }));
    const heard = new Promise<unknown>((resolve) => void bus.subscribe('orders', (message) => resolve(message)));
    await eventually(async () => expect(await s.client().pubsub('NUMSUB', `${s.prefix}:ch:orders`)).toEqual([`${s.prefix}:ch:orders`, 1]));
    await call(gw, 'POST', '/v1/channels/orders/messages', { message: { id: 7 } });
    expect(await heard).toEqual({ id: 7 });

    const events = await subscribed(s, gw, '/v1/channels/orders/events');
    await bus.publish('orders', { id: 8 });
    expect(await events.next()).toEqual({ event: 'message', data: { channel: 'orders', message: { id: 8 } } });
  });

  it('with ?raw=1 uses the exact channel: redis-cli PUBLISH reaches the stream, an HTTP publish reaches plain subscribers', async () => {
    const s = scope();
    const gw = await listening(s);
    const events = await subscribed(s, gw, '/v1/channels/task:pubsub:channel/events?raw=1');
    const { stdout } = await run('redis-cli', ['-p', String(redis.server.port), 'PUBLISH', 'task:pubsub:channel', '7']);
    expect(stdout.trim()).toBe('1');
    expect(await events.next()).toEqual({ event: 'message', data: { channel: 'task:pubsub:channel', message: '7' } });

    const listener = s.client();
    const heard = new Promise<[string, string]>((resolve) => listener.on('message', (channel: string, message: string) => resolve([channel, message])));
    await listener.subscribe('task:pubsub:channel');
    const published = await call(gw, 'POST', '/v1/channels/task:pubsub:channel/messages?raw=1', { message: 'plain text' });
    expect(published.body).toEqual({ channel: 'task:pubsub:channel', receivers: 2, partial: false }); // the stream and the plain client
    expect(await heard).toEqual(['task:pubsub:channel', 'plain text']);
    expect(await events.next()).toMatchObject({ data: { message: 'plain text' } });
  });

  it('keeps raw and JSON channels of the same name apart', async () => {
    const s = scope();
    const gw = await listening(s);
    const json = await subscribed(s, gw, '/v1/channels/news/events');
    const raw = await subscribed(s, gw, '/v1/channels/news/events?raw=1');
    // Each stream's next event is the one published on its own kind of channel, though the other came first.
    await call(gw, 'POST', '/v1/channels/news/messages?raw=1', { message: 'raw one' });
    await call(gw, 'POST', '/v1/channels/news/messages', { message: 'json one' });
    expect(await json.next()).toMatchObject({ data: { message: 'json one' } });
    expect(await raw.next()).toMatchObject({ data: { message: 'raw one' } });
  });

  it('subscribes to patterns, saying which pattern matched', async () => {
    const s = scope();
    const gw = await listening(s);
    const events = await subscribed(s, gw, '/v1/channels/news.*/events');
    await call(gw, 'POST', '/v1/channels/weather/messages', { message: 'not for it' });
    await call(gw, 'POST', '/v1/channels/news.sport/messages', { message: 'goal' });
    expect(await events.next()).toEqual({ event: 'message', data: { channel: 'news.sport', message: 'goal', pattern: 'news.*' } });
  });

  it('unsubscribes when the client hangs up, and ends streams when the gateway closes', async () => {
    const s = scope();
    const gw = await startGateway({ connection: redis.url, prefix: s.prefix, port: 0 });
    const numsub = async () => (await s.client().pubsub('NUMSUB', `${s.prefix}:ch:a`))[1];
    const first = await subscribed(s, gw, '/v1/channels/a/events');
    expect(await numsub()).toBe(1);
    await first.close();
    await eventually(async () => expect(await numsub()).toBe(0));

    const second = await subscribed(s, gw, '/v1/channels/a/events');
    await gw.close();
    expect(await second.next()).toBeUndefined();
    expect(await numsub()).toBe(0);
  });
});

describe('channel requests that are wrong get their status and write nothing', () => {
  const cases: [string, 'GET' | 'POST', string, unknown, number, RegExp][] = [
    ['a bad channel name', 'POST', '/v1/channels/bad%20name!/messages', { message: 1 }, 400, /invalid channel name "bad name!"/],
    ['a too long channel name', 'POST', `/v1/channels/${'c'.repeat(129)}/messages`, { message: 1 }, 400, /invalid channel name/],
    ['a control character in a raw name', 'POST', '/v1/channels/a%0Ab/messages?raw=1', { message: 'x' }, 400, /control characters/],
    ['a pattern to publish to', 'POST', '/v1/channels/news.*/messages', { message: 1 }, 400, /^a pattern cannot be published to: "news\.\*" holds a wildcard/],
    ['a missing message', 'POST', '/v1/channels/news/messages', {}, 400, /message: required/],
    ['an unknown field', 'POST', '/v1/channels/news/messages', { message: 1, ttl: 5 }, 400, /unknown option "ttl"/],
    ['a raw message that is not a string', 'POST', '/v1/channels/news/messages?raw=1', { message: { a: 1 } }, 400, /with raw=1 the message must be a string, got object: raw channels carry plain strings/],
    ['a raw flag that is not one', 'POST', '/v1/channels/news/messages?raw=yes', { message: 'x' }, 400, /query: raw/],
    ['an unknown query parameter', 'POST', '/v1/channels/news/messages?row=1', { message: 'x' }, 400, /row/],
    ['an oversized body', 'POST', '/v1/channels/news/messages', { message: 'x'.repeat(1024 * 1024) }, 413, /limit of 1048576 bytes/],
    ['a bad name to subscribe to', 'GET', '/v1/channels/bad%20name!/events', undefined, 400, /invalid channel name/],
    ['a bad pattern to subscribe to', 'GET', '/v1/channels/news.%5Bx%5D/events', undefined, 400, /invalid channel pattern/],
  ];
  for (const [what, method, url, payload, status, message] of cases) {
    it(`rejects ${what} with ${status}`, async () => {
      const s = scope();
      await expectRefused(s, await listening(s), [method, url, payload, status, message]);
    });
  }

  it('rejects a message over the channel limit when the body limit allows it', async () => {
    const s = scope();
    const gw = await listening(s, { bodyLimitBytes: 4 * 1024 * 1024 });
    const reply = await call(gw, 'POST', '/v1/channels/news/messages', { message: 'x'.repeat(1024 * 1024 + 1) });
    expect([reply.status, reply.body.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });

  it('asks for the token on channel routes when the gateway has one', async () => {
    const s = scope();
    const gw = await listening(s, { token: 'sesame-123' });
    expect((await call(gw, 'POST', '/v1/channels/news/messages', { message: 1 })).status).toBe(401);
    const refused = await fetch(`${gw.url}/v1/channels/news/events`);
    expect([refused.status, ((await refused.json()) as any).error.code]).toEqual([401, 'UNAUTHORIZED']);
    const auth = { authorization: 'Bearer sesame-123' };
    const events = await subscribed(s, gw, '/v1/channels/news/events', auth);
    expect((await call(gw, 'POST', '/v1/channels/news/messages', { message: 1 }, auth)).body.receivers).toBe(1);
    expect(await events.next()).toMatchObject({ data: { message: 1 } });
  });
});
