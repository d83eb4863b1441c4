/**
 * Retrying a flow parent that never ran (review 16): it waits for its children again and
 * its children that did not complete are retried, and theirs - whether a user retries the
 * parent (after cancelling it) or a re-open retries a cancelled sibling that has children of
 * its own; a retry cut short before the children were retried is finished by retrying the
 * parent again.
 */
import { describe, expect, it, vi } from 'vitest';
import { Flows, type FlowNodeRef } from '../src/index.js';
import { QueueKeys } from '../src/redis/keys.js';
import { runScript } from '../src/redis/scripts.js';
import * as queueScripts from '../src/redis/queue-scripts.js';
import { deferred, useRedis, useScope, type TestScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const flows = (s: TestScope) => s.add(new Flows({ connection: redis.url, prefix: s.prefix }));
const stateOf = async (s: TestScope, node: FlowNodeRef) => (await s.queue(node.queue).getTask(node.id))?.state;

describe('a re-open retrying a cancelled sibling that has children', () => {
  it('runs that sibling only after its own children, retried too', async () => {
    const s = scope();
    const f = flows(s);
    let healthy = false;
    const gate = deferred();
    s.worker<string, string>('kid', async (task) => {
      if (!healthy) throw new Error('down');
      await gate.promise; // the retried child completes only after the retry's notice was applied
      return task.payload;
    });
    const midRuns: string[][] = [];
    s.worker('mid', async (_t, context) => {
      midRuns.push(Object.values(await context.children()).map((c) => c.state));
      return 'mid';
    });
    s.worker('top', async () => 'top');
    // no 'leaf' worker yet: the leaf waits, the cascade cancels it
    const flow = await f.add({ queue: 'top', children: [{ queue: 'kid', payload: 'a', attempts: 1 }, { queue: 'mid', children: [{ queue: 'leaf', payload: 1 }] }] });
    await expect(flow.result({ timeoutMs: 10_000 })).rejects.toThrow(/failed/);
    const [kid, mid] = flow.tree.children as [FlowNodeRef, FlowNodeRef];
    const leaf = mid.children[0]!;
    // The cascade runs after the parent failed (the hand-over cancels the failed child's siblings' trees).
    await vi.waitFor(async () => expect(await stateOf(s, leaf)).toBe('cancelled'), { timeout: 5_000 });
    healthy = true;
    await s.queue('kid').retry(kid.id); // applies the re-open and its retries before it returns
    expect({ mid: await stateOf(s, mid), leaf: await stateOf(s, leaf), midRuns }).toEqual({ mid: 'dependencies', leaf: 'waiting', midRuns: [] });
    s.worker('leaf', async () => 'leaf');
    gate.resolve();
    await expect(flow.result({ timeoutMs: 10_000 })).resolves.toBe('top');
    expect({ midRuns, leaf: await stateOf(s, leaf) }).toEqual({ midRuns: [['completed']], leaf: 'completed' });
  }, 20_000);
});

describe('a user retrying a cancelled flow parent', () => {
  it('puts it back to waiting for its children, retried, and it runs after them', async () => {
    const s = scope();
    const f = flows(s);
    const flow = await f.add({ queue: 'p', children: [{ queue: 'c', payload: 1 }, { queue: 'c', children: [{ queue: 'g', payload: 2 }] }] });
    const [c1, c2] = flow.tree.children as [FlowNodeRef, FlowNodeRef];
    const g = c2.children[0]!;
    await s.queue('p').cancel(flow.id);
    expect([await stateOf(s, c1), await stateOf(s, c2), await stateOf(s, g)]).toEqual(['cancelled', 'cancelled', 'cancelled']);
    await s.queue('p').retry(flow.id);
    expect({ p: await stateOf(s, flow.tree), c1: await stateOf(s, c1), c2: await stateOf(s, c2), g: await stateOf(s, g) }).toEqual({ p: 'dependencies', c1: 'waiting', c2: 'dependencies', g: 'waiting' });
    const seen: unknown[] = [];
    s.worker<number, number>('g', async (task) => task.payload * 10);
    s.worker('c', async (task, context) => task.payload ?? Object.values(await context.children()).map((c) => c.result));
    s.worker('p', async (_t, context) => {
      seen.push(Object.values(await context.children()).map((c) => c.result));
      return 'done';
    });
    await expect(flow.result({ timeoutMs: 10_000 })).resolves.toBe('done');
    expect(seen).toHaveLength(1);
    expect((seen[0] as unknown[]).sort()).toEqual([1, [20]].sort());
  }, 20_000);

  it('runs a cancelled chain again from its first step that did not complete', async () => {
    const s = scope();
    const f = flows(s);
    s.worker<string, string>('a', async (task) => `${task.payload}>a`);
    const chain = await f.chain<string>([{ queue: 'a', payload: 'x' }, { queue: 'b' }, { queue: 'c' }]);
    const [stepA, stepB] = chain.steps! as [FlowNodeRef, FlowNodeRef];
    await s.queue('a').result(stepA.id, { timeoutMs: 5_000 });
    await s.queue('c').cancel(chain.id);
    expect(await stateOf(s, stepB)).toBe('cancelled');
    await s.queue('c').retry(chain.id);
    s.worker('b', async (task) => `${String(task.previous)}>b`);
    s.worker('c', async (task) => `${String(task.previous)}>c`);
    await expect(chain.result({ timeoutMs: 10_000 })).resolves.toBe('x>a>b>c');
  }, 20_000);

  it('finishes a retry cut short before its children were retried when retried again', async () => {
    const s = scope();
    const f = flows(s);
    const flow = await f.add({ queue: 'p', children: [{ queue: 'c', payload: 1 }] });
    const child = flow.tree.children[0]!;
    await s.queue('p').cancel(flow.id);
    // the admin process dies right after the parent's own retry script
    const reply = await runScript(s.client(), queueScripts.retry(new QueueKeys(s.prefix, 'p'), flow.id));
    expect(reply.children).toEqual([`c|${child.id}`]);
    expect({ p: await stateOf(s, flow.tree), c: await stateOf(s, child) }).toEqual({ p: 'dependencies', c: 'cancelled' });
    await s.queue('p').retry(flow.id);
    expect({ p: await stateOf(s, flow.tree), c: await stateOf(s, child) }).toEqual({ p: 'dependencies', c: 'waiting' });
    s.worker('c', async () => 'c');
    s.worker('p', async () => 'p');
    await expect(flow.result({ timeoutMs: 10_000 })).resolves.toBe('p');
  }, 20_000);

  it('reruns only a parent that already ran, leaving its children as they were', async () => {
    const s = scope();
    const f = flows(s);
    let fails = true;
    s.worker('c', async () => 'c');
    s.worker('p', async () => {
      if (fails) throw new Error('parent down');
      return 'p';
    });
    const flow = await f.add({ queue: 'p', attempts: 1, onChildFailure: 'continue', children: [{ queue: 'c', payload: 1 }] });
    await expect(flow.result({ timeoutMs: 10_000 })).rejects.toThrow(/parent down/);
    fails = false;
    await s.queue('p').retry(flow.id);
    await expect(flow.result({ timeoutMs: 10_000 })).resolves.toBe('p');
    expect((await s.totals('c')).completed).toBe(1);
  }, 20_000);
});
