/**
 * A cancel cascade cut short (review 16): cancelling a flow parent that is already cancelled
 * runs its cascade again, so a caller can finish a cascade a crash cut short; any other task
 * already cancelled is still refused.
 */
import { describe, expect, it } from 'vitest';
import { Flows, InvalidStateError, type FlowNodeRef } from '../src/index.js';
import { QueueKeys } from '../src/redis/keys.js';
import { runScript } from '../src/redis/scripts.js';
import * as queueScripts from '../src/redis/queue-scripts.js';
import { useRedis, useScope, type TestScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const flows = (s: TestScope) => s.add(new Flows({ connection: redis.url, prefix: s.prefix }));
const stateOf = async (s: TestScope, node: FlowNodeRef) => (await s.queue(node.queue).getTask(node.id))?.state;

describe('cancelling a flow parent again', () => {
  it("finishes a cascade cut short after the parent's own cancel: its descendants are cancelled", async () => {
    const s = scope();
    const f = flows(s);
    const flow = await f.add({ queue: 'p', children: [{ queue: 'c', payload: 1 }, { queue: 'm', children: [{ queue: 'g', payload: 2 }] }] });
    const [c, m] = flow.tree.children as [FlowNodeRef, FlowNodeRef];
    const g = m.children[0]!;
    // the admin process dies right after the parent's own cancel script
    await runScript(s.client(), queueScripts.cancel(new QueueKeys(s.prefix, 'p'), flow.id));
    expect([await stateOf(s, c), await stateOf(s, m), await stateOf(s, g)]).toEqual(['waiting', 'dependencies', 'waiting']);
    await expect(s.queue('p').cancel(flow.id)).resolves.toBeUndefined();
    expect([await stateOf(s, c), await stateOf(s, m), await stateOf(s, g)]).toEqual(['cancelled', 'cancelled', 'cancelled']);
    // again: nothing left to do, still no error; the parent recorded each child once
    await expect(f.cancel('p', flow.id)).resolves.toBeUndefined();
    const tree = await f.get('p', flow.id);
    expect(tree?.children.map((child) => child.state)).toEqual(['cancelled', 'cancelled']);
  });

  it('still refuses a task outside a flow that is already cancelled, and a flow parent that completed', async () => {
    const s = scope();
    const task = await s.queue('q').enqueue(1);
    await s.queue('q').cancel(task.id);
    await expect(s.queue('q').cancel(task.id)).rejects.toBeInstanceOf(InvalidStateError);
    s.worker('c', async () => 'c');
    s.worker('p', async () => 'p');
    const flow = await flows(s).add({ queue: 'p', children: [{ queue: 'c', payload: 1 }] });
    await flow.result({ timeoutMs: 10_000 });
    await expect(s.queue('p').cancel(flow.id)).rejects.toBeInstanceOf(InvalidStateError);
  }, 20_000);
});
