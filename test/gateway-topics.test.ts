import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startGateway, type ListeningGateway } from '../src/gateway/app.js';
import type { GatewayOptions } from '../src/gateway/options.js';
import { Topic } from '../src/index.js';
import { Child } from './support/child.js';
import { useRedis, useScope, type TestScope } from './support/fixtures.js';
import { call, eventually, expectRefused, listeningIn, openEvents } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);

// Streams with many deliveries in flight once added an abort listener each (npm test printed
// MaxListenersExceededWarning): none may be emitted by this file's gateways.
const warnings: string[] = [];
const onWarning = (warning: Error) => void warnings.push(`${warning.name}: ${warning.message}`);
process.on('warning', onWarning);
afterAll(() => {
  process.off('warning', onWarning);
  expect(warnings.filter((warning) => warning.startsWith('MaxListenersExceededWarning'))).toEqual([]);
});

const listening = (s: TestScope, options: GatewayOptions = {}): Promise<ListeningGateway> => listeningIn(s, redis, options);

type Events = Awaited<ReturnType<typeof openEvents>>;

/** Opens a topic stream and waits for its `subscribed` event (the group exists, the stream is a member). */
async function member(s: TestScope, gw: ListeningGateway, topic: string, query: string, headers: Record<string, string> = {}): Promise<Events> {
  const events = await openEvents(s, `${gw.url}/v1/topics/${topic}/events?${query}`, headers);
  expect(events.response.status).toBe(200);
  expect(events.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const first = await events.next();
  expect(first).toMatchObject({ event: 'subscribed', data: { topic, group: expect.any(String), member: expect.any(String) } });
  return events;
}

/** The next `count` message events of a stream. */
async function take(events: Events, count: number) {
  const got = [];
  while (got.length < count) {
    const event = await events.next();
    if (!event) throw new Error(`the stream ended after ${got.length} of ${count} messages`);
    expect(event.event).toBe('message');
    expect(event.id).toBe(event.data.id);
    got.push(event.data as { id: string; attempt: number; message: unknown; group: string; publishedAt: number });
  }
  return got;
}

async function publish(gw: ListeningGateway, topic: string, messages: unknown[]): Promise<string[]> {
  const reply = await call(gw, 'POST', `/v1/topics/${topic}/messages/batch`, { messages });
  expect(reply.status).toBe(201);
  return reply.body.ids;
}

async function groupOf(gw: ListeningGateway, topic: string, group: string) {
  const info = await call(gw, 'GET', `/v1/topics/${topic}`);
  return info.body.groups.find((g: { name: string }) => g.name === group);
}

/** Waits until the Redis server's clock is past `ms` (there is no event for time passing). */
async function untilRedisTimePasses(s: TestScope, ms: number): Promise<void> {
  const client = s.client();
  for (;;) {
    const [seconds, micros] = (await client.time()) as unknown as [string, string];
    if (Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) > ms) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('durable topics over HTTP', () => {
  it('publishes one message or a batch, and reads topics, groups and dead letters', async () => {
    const s = scope();
    const gw = await listening(s);
    const one = await call(gw, 'POST', '/v1/topics/orders/messages', { message: { id: 'o-1', total: 42 } });
    expect(one.status).toBe(201);
    expect(one.body).toEqual({ topic: 'orders', id: expect.stringMatching(/^\d+-\d+$/) });
    const ids = await publish(gw, 'orders', [{ id: 'o-2' }, { id: 'o-3' }]);
    expect(ids).toHaveLength(2);

    const library = s.add(new Topic('orders', { connection: redis.url, prefix: s.prefix }));
    const got: unknown[] = [];
    const sub = library.subscribe('audit', (message) => void got.push(message), { from: 'earliest' });
    await eventually(() => expect(got).toEqual([{ id: 'o-1', total: 42 }, { id: 'o-2' }, { id: 'o-3' }]));
    await sub.close();

    const info = await call(gw, 'GET', '/v1/topics/orders');
    expect(info.body).toEqual({
      name: 'orders', length: 3, published: 3, firstId: one.body.id, lastId: ids[1], deadLetters: 0,
      groups: [{ name: 'audit', members: 0, pending: 0, lag: 0, lastDeliveredId: ids[1] }],
    });
    const list = await call(gw, 'GET', '/v1/topics');
    expect(list.body).toEqual({ topics: [info.body] });
    expect((await call(gw, 'GET', '/v1/topics/orders/dead-letters?limit=10')).body).toEqual({ deadLetters: [] });
    expect((await call(gw, 'GET', '/v1/topics/never-used')).body).toMatchObject({ name: 'never-used', length: 0, groups: [] });
  });

  it('gives every group every message, each to one member of the group, acknowledged once written', async () => {
    const s = scope();
    const gw = await listening(s);
    const billing = [await member(s, gw, 'orders', 'group=billing&prefetch=3'), await member(s, gw, 'orders', 'group=billing&prefetch=3')];
    const audit = await member(s, gw, 'orders', 'group=audit');
    const ids = await publish(gw, 'orders', Array.from({ length: 20 }, (_, n) => n));

    const audited = await take(audit, 20);
    expect(audited.map((m) => [m.id, m.message, m.attempt, m.group])).toEqual(ids.map((id, n) => [id, n, 1, 'audit']));
    expect(audited[0]!.publishedAt).toBe(Number(ids[0]!.split('-')[0]));

    // The two billing members share the 20: read each stream until the pair has them all.
    const billed = new Map<string, number>();
    const reading = billing.map(async (events) => {
      while (billed.size < 20) {
        const event = await events.next().catch(() => undefined); // the other closed it: all are in
        if (event?.event !== 'message') break;
        billed.set(event.data.id, (billed.get(event.data.id) ?? 0) + 1);
        if (billed.size === 20) await Promise.all(billing.map((other) => other !== events && other.close()));
      }
    });
    await Promise.all(reading);
    expect([...billed.keys()].sort()).toEqual([...ids].sort());
    expect([...billed.values()].every((times) => times === 1)).toBe(true);

    await eventually(async () => expect(await groupOf(gw, 'orders', 'audit')).toMatchObject({ pending: 0, lag: 0 }));
    await eventually(async () => expect(await groupOf(gw, 'orders', 'billing')).toMatchObject({ pending: 0, lag: 0 }));
  });

  it('goes on where the group was when a client reconnects, without repeating what it was sent', async () => {
    const s = scope();
    const gw = await listening(s);
    const first = await member(s, gw, 'feed', 'group=app');
    const ids = await publish(gw, 'feed', ['a', 'b', 'c']);
    expect((await take(first, 3)).map((m) => m.id)).toEqual(ids);
    await first.close();
    await eventually(async () => expect(await groupOf(gw, 'feed', 'app')).toMatchObject({ members: 0, pending: 0 }));

    const more = await publish(gw, 'feed', ['d', 'e']);
    // `from` applies to a new group only: an existing one goes on.
    const again = await member(s, gw, 'feed', 'group=app&from=earliest');
    expect((await take(again, 2)).map((m) => [m.id, m.message, m.attempt])).toEqual([[more[0], 'd', 1], [more[1], 'e', 1]]);
  });

  it('replays from earliest, from a message id, from a time, or takes only new messages', async () => {
    const s = scope();
    const gw = await listening(s);
    const [a] = await publish(gw, 'news', ['a']);
    await untilRedisTimePasses(s, Number(a!.split('-')[0]));
    const [b, c] = await publish(gw, 'news', ['b', 'c']);
    const bTime = new Date(Number(b!.split('-')[0])).toISOString();

    const earliest = await member(s, gw, 'news', 'group=g1&from=earliest');
    const fromId = await member(s, gw, 'news', `group=g2&from=${b}`);
    const fromTime = await member(s, gw, 'news', `group=g3&from=${encodeURIComponent(bTime)}`);
    const fromNew = await member(s, gw, 'news', 'group=g4');
    const [d] = await publish(gw, 'news', ['d']);

    expect((await take(earliest, 4)).map((m) => m.message)).toEqual(['a', 'b', 'c', 'd']);
    expect((await take(fromId, 3)).map((m) => m.id)).toEqual([b, c, d]);
    expect((await take(fromTime, 3)).map((m) => m.message)).toEqual(['b', 'c', 'd']);
    expect((await take(fromNew, 1)).map((m) => m.id)).toEqual([d]);
  });

  it('hands a message its member died holding to a client that connects, after the lease ran out', async () => {
    const s = scope();
    const gw = await listening(s);
    // A member (in its own process, as a gateway would be) takes one message, then dies holding it.
    const child = s.add(new Child('topic-member.ts', [redis.url, s.prefix, 'jobs', 'crew', '1']));
    await child.line((line) => line === 'ready');
    const ids = await publish(gw, 'jobs', ['first', 'second', 'third']);
    expect(await child.line((line) => line.startsWith('got '))).toBe(`got ${ids[0]}`);
    await child.kill();
    expect(await groupOf(gw, 'jobs', 'crew')).toMatchObject({ pending: 1 });

    const events = await member(s, gw, 'jobs', 'group=crew&leaseMs=300&prefetch=1');
    const got = await take(events, 3);
    expect(got.map((m) => [m.id, m.attempt]).sort()).toEqual([[ids[0], 2], [ids[1], 1], [ids[2], 1]].sort());
    await eventually(async () => expect(await groupOf(gw, 'jobs', 'crew')).toMatchObject({ pending: 0, lag: 0 }));
  });

  it('delivers again what could not be written to a client that hung up, to the client that connects next', async () => {
    const s = scope();
    const gw = await listening(s);
    // A client that subscribes, then stops reading: the gateway's writes back up once the
    // sockets' buffers (a few MB at most) are full, so some of 12 MB of events stay unwritten.
    const port = Number(new URL(gw.url).port);
    const socket = connect(port, '127.0.0.1');
    s.add({ close: async () => void socket.destroy() });
    socket.write(`GET /v1/topics/big/events?group=app&prefetch=12&leaseMs=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    let head = '';
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        head += chunk.toString();
        if (!head.includes('event: subscribed')) return;
        socket.off('data', onData);
        socket.pause(); // reads no more
        resolve();
      };
      socket.on('data', onData);
    });
    const library = s.add(new Topic<string>('big', { connection: redis.url, prefix: s.prefix }));
    const ids = await library.publishMany(Array.from({ length: 12 }, (_, n) => `${n}`.padEnd(1_000_000, '.')));
    // All twelve were handed to that client's member (the group read them all).
    // 12 MB through Redis and the gateway: allow for a loaded machine.
    await eventually(async () => expect(await groupOf(gw, 'big', 'app')).toMatchObject({ lag: 0 }), 40_000);
    socket.destroy();
    const hungUpAt = Date.now();
    // Each message is now either acknowledged (written before the hang-up) or not: settled
    // once the gateway recorded a failed attempt for every message still pending, or, on a
    // machine too loaded for that, once that member's lease (1 s) ran out, after which the
    // pending ones go to the next member all the same.
    const client = s.client();
    let unwritten = -1;
    await eventually(async () => {
      const pending = (await groupOf(gw, 'big', 'app')).pending as number;
      const recorded = await client.hlen(`${s.prefix}:topic:{big}:errors`);
      expect(recorded === pending || Date.now() - hungUpAt > 1_500).toBe(true);
      unwritten = pending;
    }, 40_000);
    expect(unwritten).toBeGreaterThan(0); // 12 MB do not fit in the sockets' buffers

    const next = await member(s, gw, 'big', 'group=app&leaseMs=300');
    const again = await take(next, unwritten);
    // Those, and only those, come again: second attempts, none of them twice.
    expect(again.every((m) => m.attempt === 2)).toBe(true);
    expect(new Set(again.map((m) => m.id)).size).toBe(unwritten);
    expect(again.every((m) => ids.includes(m.id))).toBe(true);
    await eventually(async () => expect(await groupOf(gw, 'big', 'app')).toMatchObject({ pending: 0, lag: 0 }));
    expect((await call(gw, 'GET', '/v1/topics/big/dead-letters')).body.deadLetters).toEqual([]);
  }, 120_000);

  it('ends topic streams when the gateway closes, and their members leave the group', async () => {
    const s = scope();
    const gw = await startGateway({ connection: redis.url, prefix: s.prefix, port: 0 });
    const events = await member(s, gw, 't', 'group=g');
    const library = s.add(new Topic('t', { connection: redis.url, prefix: s.prefix }));
    await library.publish('x');
    await take(events, 1); // a member is listed once it got a message
    expect((await library.info()).groups).toMatchObject([{ name: 'g', members: 1 }]);
    await gw.close();
    expect(await events.next()).toBeUndefined();
    expect((await library.info()).groups).toMatchObject([{ name: 'g', members: 0, pending: 0 }]);
  });
});

describe('topic requests that are wrong get their status and write nothing', () => {
  const cases: [string, 'GET' | 'POST', string, unknown, number, RegExp][] = [
    ['a bad topic name', 'POST', '/v1/topics/bad%20name!/messages', { message: 1 }, 400, /invalid topic name/],
    ['a topic name with a colon', 'POST', '/v1/topics/a:b/messages', { message: 1 }, 400, /invalid topic name/],
    ['a missing message', 'POST', '/v1/topics/t/messages', {}, 400, /message: required/],
    ['an unknown field', 'POST', '/v1/topics/t/messages', { message: 1, key: 'k' }, 400, /unknown option "key"/],
    ['an empty batch', 'POST', '/v1/topics/t/messages/batch', { messages: [] }, 400, /messages/],
    ['a batch that is not a list', 'POST', '/v1/topics/t/messages/batch', { messages: 'x' }, 400, /messages/],
    ['an oversized body', 'POST', '/v1/topics/t/messages', { message: 'x'.repeat(1024 * 1024) }, 413, /limit of 1048576 bytes/],
    ['a bad topic name to read', 'GET', '/v1/topics/bad%20name!', undefined, 400, /invalid topic name/],
    ['a dead-letter page too large', 'GET', '/v1/topics/t/dead-letters?limit=1001', undefined, 400, /limit/],
    ['a stream without a group', 'GET', '/v1/topics/t/events', undefined, 400, /query: group: required/],
    ['a bad group name', 'GET', '/v1/topics/t/events?group=a%20b', undefined, 400, /invalid group name/],
    ['a bad topic name to stream', 'GET', '/v1/topics/bad%20name!/events?group=g', undefined, 400, /invalid topic name/],
    ['a bad start', 'GET', '/v1/topics/t/events?group=g&from=yesterday', undefined, 400, /from: use new, earliest, a message id/],
    ['a lease too short', 'GET', '/v1/topics/t/events?group=g&leaseMs=10', undefined, 400, /leaseMs/],
    ['a prefetch of zero', 'GET', '/v1/topics/t/events?group=g&prefetch=0', undefined, 400, /prefetch/],
    ['an unknown query parameter', 'GET', '/v1/topics/t/events?group=g&ack=manual', undefined, 400, /ack/],
  ];
  for (const [what, method, url, payload, status, message] of cases) {
    it(`rejects ${what} with ${status}`, async () => {
      const s = scope();
      await expectRefused(s, await listening(s), [method, url, payload, status, message]);
    });
  }

  it('rejects a batch message that is over the topic limit when the body limit allows it', async () => {
    const s = scope();
    const gw = await listening(s, { bodyLimitBytes: 4 * 1024 * 1024 });
    const reply = await call(gw, 'POST', '/v1/topics/t/messages/batch', { messages: ['ok', 'x'.repeat(1024 * 1024 + 1)] });
    expect([reply.status, reply.body.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(reply.body.error.message).toMatch(/message 1/);
    expect(await s.client().keys(`${s.prefix}*`)).toEqual([]);
  });

  it('asks for the token on topic routes when the gateway has one', async () => {
    const s = scope();
    const gw = await listening(s, { token: 'sesame-123' });
    for (const [method, url, payload] of [
      ['POST', '/v1/topics/t/messages', { message: 1 }],
      ['GET', '/v1/topics', undefined],
      ['GET', '/v1/topics/t', undefined],
      ['GET', '/v1/topics/t/events?group=g', undefined],
    ] as const) {
      expect((await call(gw, method, url, payload)).status).toBe(401);
    }
    // Nothing but the count of failed authentications from this address (the limit on guessing).
    expect(await s.client().keys(`${s.prefix}*`)).toEqual([`${s.prefix}:gateway:auth-failures:127.0.0.1`]);
    const auth = { authorization: 'Bearer sesame-123' };
    const events = await member(s, gw, 't', 'group=g', auth);
    expect((await call(gw, 'POST', '/v1/topics/t/messages', { message: 'hi' }, auth)).status).toBe(201);
    expect((await take(events, 1))[0]!.message).toBe('hi');
  });
});
