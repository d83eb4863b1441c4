/**
 * What Errand checks in Redis's configuration and how it meets Redis's refusals (issue 12,
 * items 1 and 2), against real redis-servers configured for each case:
 * - an evicting maxmemory-policy is refused by workers, the gateway and the CLI, at start and
 *   after a reconnect (also where CONFIG, or CONFIG and INFO, are renamed away), unless the
 *   operator accepts the risk;
 * - a full Redis under noeviction gives a typed error, 507 REDIS_OUT_OF_MEMORY and one CLI line;
 * - a wrong password gives 503 REDIS_AUTH_FAILED, and never reaches a log line, a message or
 *   an answer; URL redaction hides passwords with `@`, `/` and `?password=`.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startGateway } from '../src/gateway/app.js';
import { Queue, RedisOutOfMemoryError, UnsafeEvictionPolicyError, Worker } from '../src/index.js';
import { redactError, redactUrl } from '../src/redis/redact.js';
import { oneLine, useCli } from './support/cli.js';
import { deferred, uniquePrefix } from './support/fixtures.js';
import { call, eventually, useGatewayIn } from './support/gateway.js';
import { RedisServer } from './support/redis-server.js';
import { TestScope } from './support/fixtures.js';

/** A redis-server started with `args` for the tests of one describe block. */
function useServer(args: string[]) {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await RedisServer.start({ extraArgs: args });
  });
  afterAll(async () => {
    await server?.stop();
  });
  const fixture = {
    get server() {
      return server!;
    },
    get url() {
      return server!.url;
    },
  };
  return fixture;
}

/** A scope per test on `redis`, closed after it. */
function scopes(redis: { url: string; server: RedisServer }) {
  const open: TestScope[] = [];
  afterAll(async () => {
    for (const s of open.splice(0)) await s.close();
  });
  return () => {
    const s = new TestScope(redis as never);
    s.expectErrors(); // these tests provoke worker errors and assert them themselves
    open.push(s);
    return s;
  };
}

/** The worker's 'closed' event ('error' events before it are expected, unlike with events.once). */
function closedEvent(worker: Worker<any, any>): Promise<void> {
  return new Promise((resolve) => worker.once('closed', () => resolve()));
}

/** A pino logger writing into a string, to search what was logged. */
function capturedLog() {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), get text() {
    return text;
  } };
}

describe('an evicting Redis (maxmemory-policy allkeys-lru)', () => {
  const redis = useServer(['--maxmemory-policy', 'allkeys-lru']);
  const scope = scopes(redis);
  const cli = useCli(() => ({ url: redis.url, prefix: uniquePrefix() }));

  it('is refused by a worker, which claims nothing, writes nothing and closes, saying how to fix it', async () => {
    const s = scope();
    const queue = s.queue('q');
    await queue.enqueue('keep me');
    const keysBefore = (await s.client().keys(`${s.prefix}*`)).sort();
    let ran = 0;
    const worker = new Worker('q', async () => void ran++, { connection: redis.url, prefix: s.prefix });
    const errors: Error[] = [];
    worker.on('error', (error) => errors.push(error));
    await closedEvent(worker);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(UnsafeEvictionPolicyError);
    expect(errors[0]!.message).toMatch(/maxmemory-policy allkeys-lru.*noeviction.*unsafeAllowEviction: true.*--unsafe-allow-eviction.*ERRAND_UNSAFE_ALLOW_EVICTION=1/);
    expect(ran).toBe(0);
    expect((await queue.counts()).waiting).toBe(1);
    expect((await s.client().keys(`${s.prefix}*`)).sort()).toEqual(keysBefore); // no worker entry, no queue registry write
  });

  it('runs a worker that accepts the risk', async () => {
    const s = scope();
    const queue = s.queue<number, number>('q');
    s.worker<number, number>('q', async (task) => task.payload * 2, { unsafeAllowEviction: true });
    expect(await (await queue.enqueue(21)).result({ timeoutMs: 10_000 })).toBe(42);
  });

  it('is refused by the gateway at start, and served when the risk is accepted', async () => {
    const s = scope();
    await expect(startGateway({ connection: redis.url, prefix: s.prefix, port: 0 })).rejects.toThrow(UnsafeEvictionPolicyError);
    const gw = s.add(await startGateway({ connection: redis.url, prefix: s.prefix, port: 0, unsafeAllowEviction: true }));
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
  });

  it('is refused by the CLI in one line, and accepted with --unsafe-allow-eviction or ERRAND_UNSAFE_ALLOW_EVICTION=1', async () => {
    const refused = await cli.run(['enqueue', 'q', '1']);
    expect(refused.code).toBe(1);
    expect(oneLine(refused)).toMatch(/^errand: the Redis at 127\.0\.0\.1:\d+ runs with maxmemory-policy allkeys-lru, .*--unsafe-allow-eviction/);
    expect((await cli.run(['--unsafe-allow-eviction', 'enqueue', 'q', '1'])).code).toBe(0);
    expect((await cli.run(['enqueue', 'q', '1'], { env: { ERRAND_UNSAFE_ALLOW_EVICTION: '1' } })).code).toBe(0);
    const worker = await cli.run(['worker', 'test/fixtures/cli-handlers.ts']);
    expect(worker.code).toBe(1);
    expect(oneLine(worker)).toMatch(/maxmemory-policy allkeys-lru/);
  });
});

describe('a Redis whose policy turns evicting while Errand runs (a failover to another config)', () => {
  const redis = useServer([]);
  const scope = scopes(redis);

  it('closes a running worker and answers 503 UNSAFE_EVICTION_POLICY at the gateway after the reconnect; nothing is written', async () => {
    const s = scope();
    const queue = s.queue<number, number>('q');
    const worker = new Worker<number, number>('q', async (task) => task.payload, { connection: redis.url, prefix: s.prefix });
    const errors: Error[] = [];
    worker.on('error', (error) => errors.push(error));
    s.add({ close: () => worker.close({ timeoutMs: 1_000 }) });
    expect(await (await queue.enqueue(1)).result({ timeoutMs: 10_000 })).toBe(1);
    const gw = await useGatewayIn(s, redis);
    expect((await call(gw, 'GET', '/v1/queues/q')).status).toBe(200);

    const admin = new Redis(redis.url);
    try {
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
      const closed = closedEvent(worker);
      await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes'); // every connection comes back: a reconnect
      await closed;
      expect(errors.some((error) => error instanceof UnsafeEvictionPolicyError)).toBe(true);
      const keys = (await s.client().keys(`${s.prefix}*`)).sort();
      const refused = await eventually(async () => {
        const reply = await call(gw, 'POST', '/v1/queues/q/tasks', { payload: 2 });
        expect(reply.status).toBe(503);
        return reply;
      });
      expect(refused.body.error.code).toBe('UNSAFE_EVICTION_POLICY');
      expect((await call(gw, 'GET', '/readyz')).status).toBe(503);
      expect((await call(gw, 'GET', '/healthz')).status).toBe(200);
      expect((await s.client().keys(`${s.prefix}*`)).sort()).toEqual(keys);
      expect((await queue.counts()).waiting).toBe(0);
    } finally {
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      admin.disconnect();
    }
  });
});

describe('a Redis where CONFIG is renamed away', () => {
  const redis = useServer(['--rename-command', 'CONFIG', 'CONFIG-b1f0c2', '--maxmemory-policy', 'allkeys-random']);
  const scope = scopes(redis);

  it('is still read (from INFO) and refused', async () => {
    const s = scope();
    const error = await startGateway({ connection: redis.url, prefix: s.prefix, port: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeEvictionPolicyError);
    expect((error as UnsafeEvictionPolicyError).policy).toBe('allkeys-random');
  });
});

describe('a Redis whose ACL forbids CONFIG and INFO (as managed services do)', () => {
  const redis = useServer(['--user', 'default', 'on', 'nopass', '~*', '&*', '+@all', '-config', '-info']);
  const scope = scopes(redis);

  it('cannot be read, is refused with a message saying so and naming the override, which then works', async () => {
    const s = scope();
    const error = (await startGateway({ connection: redis.url, prefix: s.prefix, port: 0 }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(UnsafeEvictionPolicyError);
    expect(error.message).toMatch(/cannot read the maxmemory-policy .*CONFIG GET and INFO are both refused.*unsafeAllowEviction: true/);
    const gw = s.add(await startGateway({ connection: redis.url, prefix: s.prefix, port: 0, unsafeAllowEviction: true }));
    expect((await fetch(`${gw.url}/v1/queues`)).status).toBe(200);
  });
});

describe('a full Redis under noeviction', () => {
  const redis = useServer(['--maxmemory', '8mb', '--maxmemory-policy', 'noeviction']);
  const scope = scopes(redis);
  const cli = useCli(() => ({ url: redis.url, prefix: uniquePrefix() }));

  it('gives the library a typed error, the gateway 507 REDIS_OUT_OF_MEMORY, the CLI one line', async () => {
    const s = scope();
    const queue = s.queue('q', { maxPayloadBytes: 512 * 1024 });
    const big = 'x'.repeat(256 * 1024);
    let refusal: unknown;
    for (let i = 0; i < 100 && refusal === undefined; i++) await queue.enqueue(big).catch((error: unknown) => (refusal = error));
    expect(refusal).toBeInstanceOf(RedisOutOfMemoryError);
    // Kept full for the other faces (closing connections could free a little room).
    const admin = s.client();
    await admin.config('SET', 'maxmemory', '1mb');
    expect((refusal as Error).message).toMatch(/out of memory.*nothing was written: raise maxmemory/);

    const gw = await useGatewayIn(s, redis);
    const reply = await call(gw, 'POST', '/v1/queues/q/tasks', { payload: big });
    expect(reply.status).toBe(507);
    expect(reply.body.error.code).toBe('REDIS_OUT_OF_MEMORY');

    const result = await cli.run(['enqueue', 'q', JSON.stringify(big.slice(0, 100_000))]);
    expect(result.code).toBe(1);
    expect(oneLine(result)).toMatch(/^errand: Redis is out of memory .*raise maxmemory/);
  });
});

describe('a Redis with a password, and a wrong one given', () => {
  const PASSWORD = 'right-horse-battery-staple';
  const WRONG = 'wrong-p@ss/word?x';
  const redis = useServer(['--requirepass', PASSWORD]);
  const scope = scopes(redis);
  const cli = useCli(() => ({ url: redis.url, prefix: uniquePrefix() }));
  const wrongUrl = () => `redis://:${encodeURIComponent(WRONG)}@127.0.0.1:${redis.server.port}`;

  it('answers 503 REDIS_AUTH_FAILED and logs no password, anywhere', async () => {
    const s = scope();
    const log = capturedLog();
    const gw = await useGatewayIn(s, { url: wrongUrl() } as never, { logger: log.logger as never });
    for (const [method, url, payload] of [
      ['GET', '/v1/queues', undefined],
      ['POST', '/v1/queues/q/tasks', { payload: 1 }],
      ['GET', '/readyz', undefined],
    ] as const) {
      const reply = await call(gw, method, url, payload);
      expect([method, url, reply.status]).toEqual([method, url, 503]);
      expect(reply.body.error.code).toBe('REDIS_AUTH_FAILED');
      expect(reply.body.error.message).toMatch(/Redis refused the credentials \((WRONGPASS|NOAUTH)[^)]*\): check the user and password/);
      expect(reply.text).not.toContain(WRONG);
      expect(reply.text).not.toContain(encodeURIComponent(WRONG));
    }
    expect(log.text).toContain('REDIS_AUTH_FAILED');
    expect(log.text).not.toContain(WRONG);
    expect(log.text).not.toContain(encodeURIComponent(WRONG));
    expect(log.text).not.toContain(PASSWORD);
  });

  it('tells the CLI user in one line, without the password', async () => {
    const result = await cli.run(['stats', '--redis', wrongUrl()]);
    expect(result.code).toBe(1);
    const line = oneLine(result);
    expect(line).toMatch(/^errand: Redis refused the credentials/);
    expect(line).not.toContain(encodeURIComponent(WRONG));
  });

  it("redacts ioredis's failed command from errors before they are logged", async () => {
    const client = new Redis(wrongUrl(), { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const failed = deferred<Error>();
    client.on('error', (error) => failed.resolve(error));
    await client.connect().catch((error: Error) => failed.resolve(error));
    const error = await failed.promise;
    client.disconnect();
    const serialized = JSON.stringify(pino.stdSerializers.err(redactError(error)));
    expect(serialized).not.toContain(encodeURIComponent(WRONG));
    expect(serialized).not.toContain(WRONG);
  });
});

describe('redactUrl', () => {
  it('hides every password form, and nothing else', () => {
    const cases: [string, string][] = [
      ['redis://:secret@host:6379', 'redis://:***@host:6379'],
      ['redis://user:secret@host:6379/0', 'redis://user:***@host:6379/0'],
      ['redis://:p@ss@host:6379', 'redis://:***@host:6379'],
      ['redis://user:p@ss/w?rd@host:6379', 'redis://user:***@host:6379'],
      ['rediss://default:pw@h.example:6380', 'rediss://default:***@h.example:6380'],
      ['redis://host:6379/0?password=secret', 'redis://host:6379/0?password=***'],
      ['redis://host?db=1&password=p@ss&family=6', 'redis://host?db=1&password=***'],
      ['redis://host:6379', 'redis://host:6379'],
      ['redis+cluster://a:1,b:2', 'redis+cluster://a:1,b:2'],
    ];
    for (const [url, shown] of cases) expect([url, redactUrl(url)]).toEqual([url, shown]);
    for (const [url] of cases) expect(redactUrl(url)).not.toMatch(/secret|p@ss|pw@|w\?rd/);
  });
});
