/**
 * A durable pipeline after the server lost the scripts' library: only the calls that found
 * it missing are sent again, so calls that did run (another client loaded the library
 * between two calls of one pipeline) do not run twice.
 */
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { ReplicationTimeoutError } from '../src/index.js';
import { scriptLibrary } from '../src/redis/scripts.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

async function errorCount(client: Redis): Promise<number> {
  const m = /errorstat_ERR:count=(\d+)/.exec(await client.info('errorstats'));
  return m ? Number(m[1]) : 0;
}

describe('durable enqueueMany after the library was lost', () => {
  it('creates each task once when another client loads the library half-way through its pipeline', { timeout: 60_000 }, async () => {
    const s = scope();
    const admin = s.client();
    const loader = s.client();
    const code = scriptLibrary('PUBLISH').code;
    let duplicated = 0;
    for (let attempt = 0; attempt < 5 && !duplicated; attempt++) {
      const queue = s.queue<string>(`durable${attempt}`, { durability: { replicas: 1, timeoutMs: 5 }, maxPayloadBytes: 64 * 1024 });
      await queue.enqueue('warm').catch((e: unknown) => {
        if (!(e instanceof ReplicationTimeoutError)) throw e;
      });
      await admin.call('FUNCTION', 'FLUSH');
      await admin.config('RESETSTAT');
      const payload = 'p'.repeat(8 * 1024);
      const before = await errorCount(admin);
      const sent = queue.enqueueMany(Array.from({ length: 2000 }, () => ({ payload }))).catch((e: unknown) => e);
      // As soon as the first chunk was refused (function missing), another client loads it.
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && (await errorCount(admin)) === before) {}
      await loader.call('FUNCTION', 'LOAD', code).catch(() => {});
      await sent;
      const waiting = (await queue.counts()).waiting;
      if (waiting !== 2001) duplicated = waiting;
      await admin.flushdb();
    }
    expect(duplicated).toBe(0);
  });
});
