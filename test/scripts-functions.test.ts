/**
 * The scripts as a Redis Functions library: loaded on first use under a name that carries
 * its code's hash, and loaded again by producers and busy workers alike when the server
 * lost it (a restart without persistence, a promoted replica, a FUNCTION FLUSH), with no
 * task lost and no attempt spent on it.
 */
import { describe, expect, it } from 'vitest';
import { scriptLibrary } from '../src/redis/scripts.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

async function libraries(s: ReturnType<typeof scope>): Promise<string[]> {
  const list = (await s.client().call('FUNCTION', 'LIST')) as unknown[][];
  return list.map((entry) => String(entry[entry.indexOf('library_name') + 1]));
}

describe('the scripts as a Functions library', () => {
  it('is loaded by the first call, under a name carrying its code hash', async () => {
    const s = scope();
    const queue = s.queue<number>('fn');
    await queue.enqueue(1);
    const name = scriptLibrary('PUBLISH').name;
    expect(name).toMatch(/^errand_[0-9a-f]{12}$/);
    expect(await libraries(s)).toContain(name);
  });

  it('is loaded again when the server lost it, by producers and by a busy worker: every task done once', async () => {
    const s = scope();
    const queue = s.queue<number, number>('flushed');
    await queue.configure({ retention: { completed: { count: 10_000 } } });
    const started = new Map<number, number>();
    let flushed = false;
    let flush: Promise<unknown> | undefined;
    s.worker<number, number>('flushed', async (task) => {
      started.set(task.payload, (started.get(task.payload) ?? 0) + 1);
      // Lost half-way, while claims, completions and heartbeats are in flight.
      if (task.payload === 150 && !flushed) {
        flushed = true;
        flush = s.client().call('FUNCTION', 'FLUSH');
      }
      return task.payload * 2;
    }, { concurrency: 20 });
    const first = await queue.enqueueMany(Array.from({ length: 300 }, (_, i) => ({ payload: i })));
    await expect.poll(() => flushed).toBe(true);
    await flush;
    // A producer's next call finds it missing too.
    const second = await queue.enqueueMany(Array.from({ length: 300 }, (_, i) => ({ payload: 300 + i })));
    const results = await Promise.all([...first, ...second].map((task) => task.result({ timeoutMs: 20_000 })));
    expect(results).toEqual(Array.from({ length: 600 }, (_, i) => i * 2));
    expect(await queue.counts()).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0, completed: 600 });
    expect([...started.values()].filter((n) => n > 1)).toEqual([]);
    expect(await libraries(s)).toContain(scriptLibrary('PUBLISH').name);
  });
});
