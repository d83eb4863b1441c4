/**
 * A flow parent's children record (deps:<id>) goes with the parent when retention trims it,
 * like its hash and its log: nothing of a trimmed task is left behind.
 */
import { describe, expect, it } from 'vitest';
import { Flows } from '../src/index.js';
import { QueueKeys } from '../src/redis/keys.js';
import { next, useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

describe('retention of flow parents', () => {
  it('deletes the parent\'s children record with the parent', async () => {
    const s = scope();
    const flows = s.add(new Flows({ connection: redis.url, prefix: s.prefix }));
    await s.queue('p').configure({ retention: { completed: { count: 0 } } });
    s.worker('c', async () => 1);
    const parentWorker = s.worker('p', async () => 2);
    const completed = next(parentWorker, 'completed');
    const flow = await flows.add({ queue: 'p', children: [{ queue: 'c' }, { queue: 'c' }] });
    const keys = new QueueKeys(s.prefix, 'p');
    await completed; // the parent ran, after its children
    expect(await s.client().exists(keys.task(flow.id))).toBe(0); // trimmed at once
    expect(await s.client().exists(keys.deps(flow.id))).toBe(0);
  });
});
