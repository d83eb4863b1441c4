/**
 * A chain on a rate-limited queue: a step released while the worker's idle wait blocks,
 * whose claim the rate limit holds back, still starts when the window opens (not when
 * the idle wait times out).
 */
import { describe, expect, it } from 'vitest';
import { Flows } from '../src/index.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

describe('a chain on a rate-limited queue', () => {
  it('starts each held-back step when the rate window opens', async () => {
    const s = scope();
    const flows = s.add(new Flows({ connection: redis.url, prefix: s.prefix }));
    await s.queue('paced').configure({ rateLimit: { max: 2, perMs: 300 } });
    s.worker<number, number>('paced', async (task) => task.payload + 1, { concurrency: 10 });
    const steps = 6;
    const started = Date.now();
    const chain = await flows.chain([{ queue: 'paced', payload: 0 }, ...Array.from({ length: steps - 1 }, () => ({ queue: 'paced' }))]);
    expect(await chain.result({ timeoutMs: 8_000 })).toBe(steps);
    // Six starts at two per 300 ms need three windows: well under the idle wait's 10 s cap.
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
