/**
 * The scripts' Functions library at the edges: a full Redis (reads answered, removes
 * allowed), an ACL without FUNCTION (EVALSHA, and no reload at every call), a worker
 * closing after the server lost the library (its leases put back).
 */
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { useRedis, useScope, type TestScope } from './support/fixtures.js';

async function commandCalls(client: Redis, name: string): Promise<number> {
  const stats = await client.info('commandstats');
  const m = new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats);
  return m ? Number(m[1]) : 0;
}

describe('a full Redis under noeviction (reads and frees)', () => {
  const redis = useRedis({ extraArgs: ['--maxmemory', '8mb', '--maxmemory-policy', 'noeviction'] });
  const scope = useScope(redis);

  it('still answers counts() and remove() (a read, and a write that frees memory) when full', async () => {
    const s: TestScope = scope();
    const queue = s.queue<string>('full', { maxPayloadBytes: 512 * 1024 });
    const first = await queue.enqueue('small'); // warms the client (loads the library)
    const big = 'x'.repeat(256 * 1024);
    let refusal: unknown;
    for (let i = 0; i < 100 && refusal === undefined; i++) await queue.enqueue(big).catch((error: unknown) => (refusal = error));
    expect(refusal).toBeDefined();
    const admin = s.client();
    await admin.config('SET', 'maxmemory', '1mb'); // stays full
    const counts = await queue.counts().then((c) => c, (e: Error) => e);
    const removed = await queue.remove(first.id).then(() => 'removed', (e: Error) => e);
    await admin.config('SET', 'maxmemory', '0');
    expect(counts).not.toBeInstanceOf(Error);
    expect(removed).toBe('removed');
  });
});

describe('a Redis whose ACL refuses FUNCTION (FCALL and EVALSHA allowed)', () => {
  const redis = useRedis({ extraArgs: ['--user', 'default', 'on', 'nopass', '~*', '&*', '+@all', '-function'] });
  const scope = useScope(redis);

  it('works, and does not send the whole library (FUNCTION LOAD) again at every call', async () => {
    const s = scope();
    const queue = s.queue<number>('acl');
    const admin = s.client();
    await queue.enqueue(0);
    await admin.config('RESETSTAT');
    for (let i = 1; i <= 20; i++) await queue.enqueue(i);
    await queue.counts();
    const loads = Number(/cmdstat_function\|load:.*rejected_calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
    const net = Number(/total_net_input_bytes:(\d+)/.exec(await admin.info('stats'))![1]);
    expect((await queue.counts()).waiting).toBe(21);
    expect(loads).toBeLessThanOrEqual(1);
    expect(net).toBeLessThan(200_000);
  });
});

describe('a worker closing after the server lost the library', () => {
  const redis = useRedis();
  const scope = useScope(redis);

  it('puts back the leases of handlers still running at the close deadline', async () => {
    const s = scope();
    s.expectErrors();
    const queue = s.queue<number>('release', {});
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const worker = s.worker<number>('release', () => {
      started();
      return new Promise(() => {}); // never ends
    }, { leaseMs: 30_000 });
    await queue.enqueue(1);
    await running;
    const admin = s.client();
    await admin.call('FUNCTION', 'FLUSH');
    await worker.close({ timeoutMs: 100 });
    const counts = await queue.counts();
    expect(counts).toMatchObject({ waiting: 1, active: 0 });
  });
});

