/**
 * An `add` that never committed (review 16): every node it wrote below the root is tracked
 * in `held`, and the sweep removes each after 10 minutes without telling its parent, so no
 * node of it ever becomes claimable; a committed flow's nodes leave `held` at once.
 */
import { describe, expect, it } from 'vitest';
import { Flows } from '../src/index.js';
import { QueueKeys } from '../src/redis/keys.js';
import { runScript } from '../src/redis/scripts.js';
import * as flowScripts from '../src/redis/flow-scripts.js';
import { FlowHandOver } from '../src/flows/hand-over.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

const node = (id: string, parent: string, children: string[], childPolicy: '' | 'continue'): flowScripts.FlowNodeRecord => ({
  id, payloadJson: '1', priority: 0, maxAttempts: 3, backoffJson: '', timeoutMs: undefined, parent, root: 'root|r1', childPolicy, chained: false, children,
});

describe('an add that never committed', () => {
  it('never makes a node of it claimable: the sweep removes every node, telling no parent', async () => {
    const s = scope();
    const client = s.client();
    const leafK = new QueueKeys(s.prefix, 'leaf');
    const midK = new QueueKeys(s.prefix, 'mid');
    // mid and its leaf written; the producer died before the root (root|r1) was written
    await runScript(client, flowScripts.createNodes(midK, [node('m1', 'root|r1', ['leaf|l1'], 'continue')]));
    await runScript(client, flowScripts.createNodes(leafK, [node('l1', 'mid|m1', [], '')]));
    expect([await client.zrange(midK.held, 0, -1), await client.zrange(leafK.held, 0, -1)]).toEqual([['m1'], ['l1']]);
    const longAgo = Date.now() - 11 * 60_000;
    await client.zadd(leafK.held, longAgo, 'l1');
    const sweeper = new FlowHandOver(() => client, s.prefix);
    await sweeper.sweep('leaf'); // removes the abandoned leaf, leaving no notice
    expect(await client.hlen(leafK.notices)).toBe(0);
    expect((await s.queue('mid').getTask('m1'))?.state).toBe('dependencies');
    await client.zadd(midK.held, longAgo, 'm1');
    await sweeper.sweep('mid');
    const [mid, leaf, counts] = await Promise.all([s.queue('mid').getTask('m1'), s.queue('leaf').getTask('l1'), s.queue('mid').counts()]);
    expect({ mid: mid?.state ?? 'gone', leaf: leaf?.state ?? 'gone', waiting: counts.waiting, dependencies: counts.dependencies }).toEqual({ mid: 'gone', leaf: 'gone', waiting: 0, dependencies: 0 });
    expect([await client.exists(midK.deps('m1')), await client.zcard(midK.held), await client.zcard(leafK.held)]).toEqual([0, 0, 0]);
  });

  it('a committed flow leaves no node in held (the sweep has nothing to look at)', async () => {
    const s = scope();
    const f = s.add(new Flows({ connection: redis.url, prefix: s.prefix }));
    await f.add({ queue: 'top', children: [{ queue: 'mid', children: [{ queue: 'leaf', payload: 1 }, { queue: 'leaf', payload: 2 }] }] });
    const client = s.client();
    const held = await Promise.all(['top', 'mid', 'leaf'].map((q) => client.zcard(new QueueKeys(s.prefix, q).held)));
    expect(held).toEqual([0, 0, 0]);
    expect((await s.queue('leaf').counts()).waiting).toBe(2);
  });
});
