import { describe, expect, it } from 'vitest';
import {
  ClosedError,
  PayloadTooLargeError,
  Topic,
  ValidationError,
  type SubscribeOptions,
  type TopicHandler,
  type TopicMessageMeta,
  type TopicOptions,
  type TopicSubscription,
} from '../src/index.js';
import { Admin } from '../src/admin/admin.js';
import { deferred, next, useRedis, useScope, type TestScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

function topicOf<M = unknown>(s: TestScope, name = 'orders', options: TopicOptions = {}): Topic<M> {
  return s.add(new Topic<M>(name, { connection: redis.url, prefix: s.prefix, ...options }));
}

function member<M>(s: TestScope, topic: Topic<M>, group: string, handler: TopicHandler<M>, options: SubscribeOptions = {}): TopicSubscription<M> {
  const sub = topic.subscribe(group, handler, options);
  sub.on('error', (error) => s.errors.push(error));
  return s.add({ close: () => sub.close({ timeoutMs: 2_000 }), sub }).sub;
}

function msOf(id: string): number {
  return Number(id.split('-')[0]);
}

/** Waits until the Redis server's clock is past `ms` (there is no event for time passing). */
async function untilRedisTimePasses(client: { time(): Promise<unknown[]> }, ms: number): Promise<void> {
  for (;;) {
    const [seconds, micros] = (await client.time()) as [string, string];
    if (Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) > ms) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Resolves once `emitter` emitted `event` `count` times. */
function times(emitter: NodeJS.EventEmitter, event: string, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const on = () => {
      if (++seen === count) {
        emitter.off(event, on);
        resolve();
      }
    };
    emitter.on(event, on);
  });
}

describe('durable topics: groups and members', () => {
  it('gives every group all of 1,000 messages, split among its members, none twice', async () => {
    const s = scope();
    const topic = topicOf<number>(s);
    const groups = ['billing', 'shipping'];
    const handled = new Map(groups.map((g) => [g, [] as { member: number; n: number; attempt: number }[]]));
    // Each member holds its first message until every member of its group has one: with
    // concurrency 1, that proves each member gets a share whatever the timing.
    const subs = groups.flatMap((group) => {
      const firsts = [deferred(), deferred(), deferred()];
      const all = Promise.all(firsts.map((d) => d.promise));
      return [0, 1, 2].map((index) =>
        member(s, topic, group, async (n, meta) => {
          handled.get(group)!.push({ member: index, n, attempt: meta.attempt });
          firsts[index]!.resolve();
          await all;
        }),
      );
    });
    await Promise.all(subs.map((sub) => sub.ready()));
    const done = subs.map(() => 0);
    const allCompleted = new Promise<void>((resolve) => {
      let total = 0;
      subs.forEach((sub, i) =>
        sub.on('completed', () => {
          done[i]!++;
          if (++total === 2_000) resolve();
        }),
      );
    });
    const ids = await topic.publishMany(Array.from({ length: 1_000 }, (_, n) => n));
    expect(new Set(ids).size).toBe(1_000);
    await allCompleted;
    for (const group of groups) {
      const list = handled.get(group)!;
      expect(list.map((h) => h.n).sort((a, b) => a - b)).toEqual(Array.from({ length: 1_000 }, (_, n) => n));
      expect(list.every((h) => h.attempt === 1)).toBe(true); // no reclaim happened, so none twice
      for (const index of [0, 1, 2]) expect(list.some((h) => h.member === index)).toBe(true);
    }
    const info = await topic.info();
    expect(info.groups.map((g) => ({ name: g.name, pending: g.pending, lag: g.lag }))).toEqual([
      { name: 'billing', pending: 0, lag: 0 },
      { name: 'shipping', pending: 0, lag: 0 },
    ]);
  });

  it('hands the meta of each message to the handler', async () => {
    const s = scope();
    const topic = topicOf<{ sku: string }>(s);
    const got = deferred<[{ sku: string }, TopicMessageMeta]>();
    const sub = member(s, topic, 'audit', (message, meta) => void got.resolve([message, meta]));
    await sub.ready();
    const id = await topic.publish({ sku: 'A-1' });
    const [message, meta] = await got.promise;
    expect(message).toEqual({ sku: 'A-1' });
    expect(meta).toMatchObject({ id, topic: 'orders', group: 'audit', attempt: 1 });
    expect(meta.publishedAt).toBe(Number(id.split('-')[0]));
    expect(meta.signal.aborted).toBe(false);
  });

  it('starts a new group at new messages by default', async () => {
    const s = scope();
    const topic = topicOf<string>(s);
    await topic.publish('before');
    const got: string[] = [];
    const sub = member(s, topic, 'late', (m) => void got.push(m));
    await sub.ready();
    await topic.publish('after');
    await next(sub, 'completed');
    expect(got).toEqual(['after']);
  });
});

describe('failures and dead letters', () => {
  it('retries a failing message, then dead-letters it with its error after `attempts`', async () => {
    const s = scope();
    const topic = topicOf<string>(s);
    const attempts: number[] = [];
    const sub = member(
      s,
      topic,
      'billing',
      (message, meta) => {
        attempts.push(meta.attempt);
        throw new Error(`cannot bill ${message}`);
      },
      { leaseMs: 100, attempts: 3 },
    );
    const failures: boolean[] = [];
    sub.on('failed', (_meta, _error, dead) => failures.push(dead));
    await sub.ready();
    const deadLettered = new Promise<void>((resolve) => sub.on('failed', (_m, _e, dead) => dead && resolve()));
    const id = await topic.publish('order-7');
    await deadLettered;
    expect(attempts).toEqual([1, 2, 3]);
    expect(failures).toEqual([false, false, true]);
    const letters = await topic.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ id, group: 'billing', attempts: 3, message: 'order-7', error: { name: 'Error', message: 'cannot bill order-7' } });
    const info = await topic.info();
    expect(info.deadLetters).toBe(1);
    expect(info.groups[0]).toMatchObject({ name: 'billing', pending: 0 });
  });

  it('dead-letters a message whose member died holding it on its last attempt', async () => {
    const s = scope();
    const topic = topicOf<string>(s);
    await topic.replay('g', 'new');
    const id = await topic.publish('orphan');
    // A member that takes the message and dies without a word.
    await s.client().xreadgroup('GROUP', 'g', 'ghost', 'COUNT', 1, 'STREAMS', topic.keys.stream, '>');
    const handled: string[] = [];
    const sub = member(s, topic, 'g', (m) => void handled.push(m), { leaseMs: 100, attempts: 1 });
    const [ids] = await next<[string[]]>(sub, 'exhausted');
    expect(ids).toEqual([id]);
    expect(handled).toEqual([]);
    expect(await topic.deadLetters()).toMatchObject([
      { id, group: 'g', attempts: 1, message: 'orphan', error: { name: 'LeaseExpiredError' } },
    ]);
    expect((await topic.info()).groups[0]).toMatchObject({ pending: 0 });
  });

  it('lets a failed message succeed on a later attempt', async () => {
    const s = scope();
    const topic = topicOf<string>(s);
    const sub = member(
      s,
      topic,
      'g',
      (_message, meta) => {
        if (meta.attempt === 1) throw new Error('transient');
      },
      { leaseMs: 100 },
    );
    await sub.ready();
    const completed = next<[TopicMessageMeta]>(sub, 'completed');
    await topic.publish('x');
    const [meta] = await completed;
    expect(meta.attempt).toBe(2);
    expect(await topic.deadLetters()).toEqual([]);
  });

  it('dead-letters at once a message that is not JSON (written by someone else)', async () => {
    const s = scope();
    const topic = topicOf(s);
    const sub = member(s, topic, 'g', () => {});
    await sub.ready();
    const failed = next<[TopicMessageMeta, Error, boolean]>(sub, 'failed');
    await s.client().xadd(topic.keys.stream, '*', 'm', 'not json {');
    const [, error, dead] = await failed;
    expect(error).toBeInstanceOf(ValidationError);
    expect(dead).toBe(true);
    expect((await topic.deadLetters())[0]).toMatchObject({ attempts: 1, message: 'not json {' });
  });
});

describe('fencing: a member that lost a message cannot finish it', () => {
  it('aborts the handler when the heartbeat finds the message taken over', async () => {
    const s = scope();
    const topic = topicOf<number>(s);
    const started = deferred<TopicMessageMeta>();
    const hold = deferred();
    const sub = member(s, topic, 'g', (_n, meta) => (started.resolve(meta), hold.promise), { leaseMs: 150 });
    await sub.ready();
    const id = await topic.publish(1);
    const meta = await started.promise;
    const lost = next<[TopicMessageMeta]>(sub, 'lost');
    await s.client().xclaim(topic.keys.stream, 'g', 'intruder', 0, id); // as after a lapsed lease
    expect((await lost)[0].id).toBe(id);
    expect(meta.signal.aborted).toBe(true);
    hold.resolve();
  });

  it('refuses the acknowledgement of a message another member took over', async () => {
    const s = scope();
    const topic = topicOf<number>(s);
    const started = deferred<TopicMessageMeta>();
    const hold = deferred();
    // A long lease: no heartbeat runs during the test, so only the ack can notice.
    const sub = member(s, topic, 'g', (_n, meta) => (started.resolve(meta), hold.promise), { leaseMs: 60_000 });
    await sub.ready();
    const id = await topic.publish(1);
    await started.promise;
    const client = s.client();
    await client.xclaim(topic.keys.stream, 'g', 'intruder', 0, id);
    const lost = next<[TopicMessageMeta]>(sub, 'lost');
    hold.resolve();
    expect((await lost)[0].id).toBe(id);
    const pending = (await client.xpending(topic.keys.stream, 'g', '-', '+', 10)) as [string, string, number, number][];
    expect(pending.map(([pid, consumer, , deliveries]) => [pid, consumer, deliveries])).toEqual([[id, 'intruder', 2]]);
  });
});

describe('Redis restarts', () => {
  it('keeps a member going after Redis restarts without persistence (the group is made again)', async () => {
    const s = scope();
    s.expectErrors();
    const topic = topicOf<number>(s);
    const got: number[] = [];
    const sub = member(s, topic, 'g', (n) => void got.push(n), { leaseMs: 200 });
    await sub.ready();
    await topic.publish(1);
    await next(sub, 'completed');
    await redis.server.restart(); // the stream and its groups are gone
    const second = next(sub, 'completed');
    await topic.publish(2);
    await second;
    expect(got).toEqual([1, 2]);
  });
});

describe('replay and retention', () => {
  it('replays from the earliest retained message, from an id, and from a time', async () => {
    const s = scope();
    const topic = topicOf<number>(s);
    const client = s.client();
    const early = await topic.publishMany([0, 1, 2]);
    await untilRedisTimePasses(client, msOf(early[2]!)); // so the next ids carry a later time
    const late = await topic.publishMany([3, 4]);
    const collect = async (group: string, from: SubscribeOptions['from'], count: number) => {
      const got: number[] = [];
      const sub = member(s, topic, group, (n) => void got.push(n), { from });
      await times(sub, 'completed', count);
      return got;
    };
    expect(await collect('from-earliest', 'earliest', 5)).toEqual([0, 1, 2, 3, 4]);
    expect(await collect('from-id', early[1]!, 4)).toEqual([1, 2, 3, 4]);
    expect(await collect('from-time', new Date(msOf(late[0]!)), 2)).toEqual([3, 4]);
    const groups = (await topic.info()).groups;
    expect(groups.map((g) => [g.name, g.pending, g.lag])).toEqual([
      ['from-earliest', 0, 0],
      ['from-id', 0, 0],
      ['from-time', 0, 0],
    ]);
  });

  it('moves an existing group back with replay(), delivering handled messages again', async () => {
    const s = scope();
    const topic = topicOf<number>(s);
    const got: number[] = [];
    const sub = member(s, topic, 'g', (n) => void got.push(n), { from: 'earliest' });
    const ids = await topic.publishMany([1, 2, 3]);
    await times(sub, 'completed', 3);
    const again = times(sub, 'completed', 3);
    await topic.replay('g', ids[1]!);
    await topic.publish(4); // wakes the member's blocking read
    await again;
    expect(got).toEqual([1, 2, 3, 2, 3, 4]); // concurrency 1: in order
  });

  it('trims by length, and a lagging group skips what was trimmed', async () => {
    const s = scope();
    const topic = topicOf<number>(s, 'orders', { retention: { maxLength: 10 } });
    await topic.replay('slow', 'earliest'); // a group that exists but reads nothing yet
    await topic.publishMany(Array.from({ length: 25 }, (_, n) => n));
    let info = await topic.info();
    expect(info).toMatchObject({ length: 10, published: 25 });
    expect(info.groups[0]).toMatchObject({ name: 'slow', lag: 10, pending: 0 });
    const got: number[] = [];
    const sub = member(s, topic, 'slow', (n) => void got.push(n));
    await times(sub, 'completed', 10);
    expect(got.sort((a, b) => a - b)).toEqual([15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
    info = await topic.info();
    expect(info.groups[0]).toMatchObject({ lag: 0, pending: 0 });
  });

  it('trims by age, on the Redis clock, as messages are published', async () => {
    const s = scope();
    const topic = topicOf<string>(s, 'orders', { retention: { maxAgeMs: 50 } });
    const [oldId] = await topic.publishMany(['old-1', 'old-2']);
    // Wait (on Redis's clock, not ours) until the old messages are past their age.
    await untilRedisTimePasses(s.client(), msOf(oldId!) + 50);
    const newId = await topic.publish('new');
    const info = await topic.info();
    expect(info).toMatchObject({ length: 1, firstId: newId, lastId: newId });
  });
});

describe('admin reads', () => {
  it('lists topics with their groups, pending and lag', async () => {
    const s = scope();
    const orders = topicOf<number>(s, 'orders');
    const audit = topicOf<number>(s, 'audit');
    const hold = deferred();
    const two = deferred();
    let started = 0;
    const sub = member(
      s,
      orders,
      'billing',
      () => {
        if (++started === 2) two.resolve();
        return hold.promise;
      },
      { concurrency: 2 },
    );
    await sub.ready();
    await orders.replay('reports', 'new');
    await orders.publishMany([1, 2, 3]);
    await audit.publish(1);
    const admin = s.add(new Admin({ connection: redis.url, prefix: s.prefix }));
    expect(await admin.topics.names()).toEqual(['audit', 'orders']);
    await two.promise; // the member holds two (its concurrency); the third waits
    const overview = await admin.topics.overview();
    expect(overview.map((t) => [t.name, t.length])).toEqual([['audit', 1], ['orders', 3]]);
    expect(overview[1]!.groups).toEqual([
      expect.objectContaining({ name: 'billing', members: 1, pending: 2, lag: 1 }),
      expect.objectContaining({ name: 'reports', members: 0, pending: 0, lag: 3 }),
    ]);
    hold.resolve();
    await times(sub, 'completed', 3);
    expect((await admin.topics.topic('orders').info()).groups[0]).toMatchObject({ pending: 0, lag: 0 });
  });
});

describe('bad input never reaches Redis', () => {
  it('rejects invalid names, messages and options with typed errors', async () => {
    const s = scope();
    expect(() => new Topic('no spaces', { connection: redis.url })).toThrow(/invalid topic name "no spaces"/);
    expect(() => new Topic('t', { connection: redis.url, retention: { maxLength: 0 } })).toThrow(/retention.maxLength/);
    expect(() => new Topic('t', { connection: redis.url, retention: { maxAge: 5 } } as never)).toThrow(/unknown option "maxAge" in retention/);
    const topic = topicOf(s, 'orders', { maxMessageBytes: 50 });
    await expect(topic.publish({ when: new Map() })).rejects.toThrow(/message is not JSON-serializable: when is a Map/);
    await expect(topic.publish('x'.repeat(60))).rejects.toThrow(PayloadTooLargeError);
    await expect(topic.publishMany([1, 'x'.repeat(60)])).rejects.toThrow(/message 1 is 62 bytes/);
    expect(() => topic.subscribe('bad group!', () => {})).toThrow(/invalid group name "bad group!"/);
    expect(() => topic.subscribe('g', () => {}, { from: 'yesterday' as never })).toThrow(/from: /);
    expect(() => topic.subscribe('g', () => {}, { leaseMs: 10 })).toThrow(/leaseMs/);
    expect(() => topic.subscribe('g', () => {}, { concurency: 2 } as never)).toThrow(/unknown option "concurency"/);
    await expect(topic.replay('g', new Date(Number.NaN))).rejects.toThrow(ValidationError);
    expect(await s.client().keys(`${s.prefix}:*`)).toEqual([]);
    await topic.close();
    await expect(topic.publish(1)).rejects.toThrow(ClosedError);
  });
});
