import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Broadcast, ClosedError, PayloadTooLargeError, ValidationError, type BroadcastOptions, type ChannelMeta } from '../src/index.js';
import { deferred, next, useRedis, useScope, type TestScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const run = promisify(execFile);

function broadcast<M = unknown>(s: TestScope, options: BroadcastOptions = {}): Broadcast<M> {
  const bus = new Broadcast<M>({ connection: redis.url, prefix: s.prefix, ...options });
  bus.on('error', (error) => s.errors.push(error));
  return s.add(bus);
}

/** Collects what a handler receives and resolves once `count` messages arrived. */
function collector<M>(count: number) {
  const received: { message: M; meta: ChannelMeta }[] = [];
  const done = deferred<void>();
  const handler = (message: M, meta: ChannelMeta) => {
    received.push({ message, meta });
    if (received.length === count) done.resolve();
  };
  return { received, done: done.promise, handler };
}

describe('live channels', () => {
  it('fans every message out to every subscriber, in order', async () => {
    const s = scope();
    const publisher = broadcast<{ n: number }>(s);
    const subscribers = [broadcast<{ n: number }>(s), broadcast<{ n: number }>(s), broadcast<{ n: number }>(s)];
    const collectors = subscribers.map(() => collector<{ n: number }>(5));
    await Promise.all(subscribers.map((bus, i) => bus.subscribe('news', collectors[i]!.handler)));
    const counts = [];
    for (let n = 0; n < 5; n++) counts.push(await publisher.publish('news', { n }));
    expect(counts).toEqual([3, 3, 3, 3, 3]);
    await Promise.all(collectors.map((c) => c.done));
    for (const { received } of collectors) {
      expect(received.map((r) => r.message)).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })));
      expect(received[0]!.meta).toEqual({ channel: 'news' });
    }
  });

  it('keeps channels apart and stops a handler on close', async () => {
    const s = scope();
    const bus = broadcast<string>(s);
    const news = collector<string>(1);
    const sports = collector<string>(1);
    const newsSub = await bus.subscribe('news', news.handler);
    await bus.subscribe('sports', sports.handler);
    expect(await bus.publish('sports', 'goal')).toBe(1);
    await sports.done;
    expect(news.received).toEqual([]);
    await newsSub.close();
    expect(await bus.publish('news', 'nobody listens')).toBe(0);
    expect(await bus.publish('sports', 'second')).toBe(1);
  });

  it('shares one Redis subscription among handlers of one channel', async () => {
    const s = scope();
    const bus = broadcast<number>(s);
    const a = collector<number>(1);
    const b = collector<number>(1);
    const subA = await bus.subscribe('shared', a.handler);
    await bus.subscribe('shared', b.handler);
    expect(await bus.publish('shared', 1)).toBe(1); // one connection, two handlers
    await Promise.all([a.done, b.done]);
    await subA.close();
    expect(await bus.publish('shared', 2)).toBe(1); // b still holds the subscription
  });

  it('delivers by pattern, telling which channel and pattern matched', async () => {
    const s = scope();
    const bus = broadcast<string>(s);
    const got = collector<string>(2);
    const sub = await bus.subscribe('news.*', got.handler);
    expect(sub.pattern).toBe(true);
    await bus.publish('news.eu', 'a');
    await bus.publish('sports.eu', 'not matched');
    await bus.publish('news.us', 'b');
    await got.done;
    expect(got.received).toEqual([
      { message: 'a', meta: { channel: 'news.eu', pattern: 'news.*' } },
      { message: 'b', meta: { channel: 'news.us', pattern: 'news.*' } },
    ]);
  });

  it('reports a handler that throws and goes on delivering', async () => {
    const s = scope();
    const bus = broadcast<number>(s);
    const errors: Error[] = [];
    bus.removeAllListeners('error');
    bus.on('error', (error) => errors.push(error));
    const got = collector<number>(2);
    await bus.subscribe('flaky', (n: number, meta) => {
      got.handler(n, meta);
      if (n === 1) throw new Error('handler broke');
    });
    await bus.publish('flaky', 1);
    await bus.publish('flaky', 2);
    await got.done;
    expect(errors.map((e) => e.message)).toEqual(['handler broke']);
  });
});

describe('raw channels interoperate with plain Redis clients', () => {
  it('receives what redis-cli PUBLISHes, under the exact channel name', async () => {
    const s = scope();
    const bus = broadcast<string>(s, { raw: true });
    const got = collector<string>(1);
    await bus.subscribe('task:pubsub:channel', got.handler);
    const { stdout } = await run('redis-cli', ['-p', String(redis.server.port), 'PUBLISH', 'task:pubsub:channel', '7']);
    expect(stdout.trim()).toBe('1');
    await got.done;
    expect(got.received).toEqual([{ message: '7', meta: { channel: 'task:pubsub:channel' } }]);
  });

  it('reaches a redis-cli SUBSCRIBE client', async () => {
    const s = scope();
    const bus = broadcast<string>(s, { raw: true });
    const cli = spawn('redis-cli', ['-p', String(redis.server.port), 'SUBSCRIBE', 'task:pubsub:channel'], { stdio: ['ignore', 'pipe', 'inherit'] });
    s.add({ close: async () => void cli.kill() });
    // One listener from the start, so no output is missed between two waits.
    let output = '';
    let onLine = () => {};
    cli.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      onLine();
    });
    const lines = (wanted: number) =>
      new Promise<string[]>((resolve) => {
        onLine = () => {
          const all = output.split('\n').filter(Boolean);
          if (all.length >= wanted) resolve(all);
        };
        onLine();
      });
    // redis-cli prints "subscribe", the channel and the count once subscribed.
    expect(await lines(3)).toEqual(['subscribe', 'task:pubsub:channel', '1']);
    expect(await bus.publish('task:pubsub:channel', '7')).toBe(1);
    expect((await lines(6)).slice(3)).toEqual(['message', 'task:pubsub:channel', '7']);
  });

  it('keeps Errand names apart from raw ones (prefixed) and shows the prefixed name to plain clients', async () => {
    const s = scope();
    const raw = broadcast<string>(s, { raw: true });
    const json = broadcast<{ a: number }>(s);
    const got = collector<string>(1);
    await raw.subscribe(`${s.prefix}:ch:orders`, got.handler);
    await json.publish('orders', { a: 1 });
    await got.done;
    expect(got.received[0]!.message).toBe('{"a":1}');
  });
});

describe('reconnection', () => {
  it('subscribes again by itself after Redis restarts', async () => {
    const s = scope();
    s.expectErrors();
    const subscriber = broadcast<number>(s);
    const got = collector<number>(2);
    await subscriber.subscribe('news', got.handler);
    await subscriber.subscribe('alerts.*', got.handler);
    const resubscribed = next(subscriber, 'resubscribed');
    await redis.server.restart();
    await resubscribed;
    const publisher = broadcast<number>(s);
    expect(await publisher.publish('news', 1)).toBe(1);
    expect(await publisher.publish('alerts.fire', 2)).toBe(1);
    await got.done;
    expect(got.received.map((r) => r.message)).toEqual([1, 2]);
  });
});

describe('bad input never reaches Redis', () => {
  it('rejects invalid names, patterns, messages and options with typed errors', async () => {
    const s = scope();
    const bus = broadcast(s);
    const raw = broadcast(s, { raw: true, maxMessageBytes: 10 });
    await expect(bus.publish('has space', 1)).rejects.toThrow(/invalid channel name "has space"/);
    await expect(bus.publish('news.*', 1)).rejects.toThrow(/^a pattern cannot be published to: "news\.\*" holds a wildcard/);
    await expect(bus.publish('', 1)).rejects.toThrow(ValidationError);
    await expect(bus.subscribe('news/[x]', () => {})).rejects.toThrow(/invalid channel pattern/);
    await expect(bus.publish('news', { f: () => 1 })).rejects.toThrow(/message is not JSON-serializable: f is a function/);
    await expect(bus.publish('news', undefined)).rejects.toThrow(ValidationError);
    await expect(raw.publish('x', 7)).rejects.toThrow(/a raw channel carries strings, got number/);
    await expect(raw.publish('x', '12345678901')).rejects.toThrow(PayloadTooLargeError);
    await expect(raw.publish('bad\nname', 'x')).rejects.toThrow(/invalid raw channel name/);
    expect(() => new Broadcast({ connection: redis.url, raw: 'yes' } as never)).toThrow(/raw: /);
    expect(() => new Broadcast({ connection: redis.url, maxMessagBytes: 1 } as never)).toThrow(/unknown option "maxMessagBytes"/);
    const big = broadcast(s, { maxMessageBytes: 100 });
    await expect(big.publish('news', 'x'.repeat(200))).rejects.toThrow(/message is 202 bytes, over the limit of 100 bytes/);
    await bus.close();
    await expect(bus.publish('news', 1)).rejects.toThrow(ClosedError);
  });
});
