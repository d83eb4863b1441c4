/**
 * A chain's next step starts from the call that completes the step before: the worker's
 * call recording a completion that releases a flow parent in the same queue also claims,
 * even while its idle wait blocks (whose own claim would take the step one call later).
 * Counted in script calls on this file's own Redis.
 */
import { describe, expect, it } from 'vitest';
import { Flows } from '../src/index.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

async function scriptCalls(client: { info(section: string): Promise<string> }): Promise<number> {
  const line = (await client.info('commandstats')).split('\n').find((l) => l.startsWith('cmdstat_fcall:') || l.startsWith('cmdstat_evalsha:'));
  return Number(line?.match(/calls=(\d+)/)?.[1] ?? 0);
}

describe('a chain on one queue', () => {
  it('runs each next step from the call that completed the step before', async () => {
    const s = scope();
    const flows = s.add(new Flows({ connection: redis.url, prefix: s.prefix }));
    // Warm up: the worker has claimed, found nothing and blocks in its idle wait.
    s.worker<number, number>('steps', async (task) => task.payload + 1, { concurrency: 10 });
    const warm = await flows.chain([{ queue: 'steps', payload: 0 }, { queue: 'steps' }]);
    expect(await warm.result({ timeoutMs: 10_000 })).toBe(2);
    const steps = 40;
    const client = s.client();
    await client.config('RESETSTAT');
    const chain = await flows.chain([{ queue: 'steps', payload: 0 }, ...Array.from({ length: steps - 1 }, () => ({ queue: 'steps' }))]);
    expect(await chain.result({ timeoutMs: 10_000 })).toBe(steps);
    // One call a step (a completion with the next claim), and a few more: the chain's
    // creation, the first step's claim, a heartbeat. With a separate claim for each step
    // it is about two a step.
    expect(await scriptCalls(client)).toBeLessThanOrEqual(steps + 10);
  });
});
