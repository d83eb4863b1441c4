/**
 * Admin actions on flows: cancelling a parent cancels its pending descendants, retrying a
 * failed child lets a 'fail' parent that never ran go on, removing a flow removes its tree,
 * and a flow whose `add` stopped half-way has nothing claimable (the sweep finishes it).
 */
import { describe, expect, it } from 'vitest';
import { Flows, type FlowNodeRef } from '../src/index.js';
import { QueueKeys, TASK_FIELDS } from '../src/redis/keys.js';
import { runScript } from '../src/redis/scripts.js';
import * as flowScripts from '../src/redis/flow-scripts.js';
import { FlowHandOver, STALE_NODE_MS } from '../src/flows/hand-over.js';
import { deferred, next, useRedis, useScope, type TestScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

function flows(s: TestScope): Flows {
  return s.add(new Flows({ connection: redis.url, prefix: s.prefix }));
}

function all(node: FlowNodeRef): FlowNodeRef[] {
  return [node, ...node.children.flatMap(all)];
}

describe('cancel', () => {
  it('cancels the pending descendants of a cancelled parent, running ones included', async () => {
    const s = scope();
    const f = flows(s);
    const started = deferred();
    const worker = s.worker('busy', async (_task, { signal }) => {
      started.resolve();
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
    }, { leaseMs: 600 }); // a short beat: the lost lease is seen soon
    const flow = await f.add({
      queue: 'root',
      children: [
        { queue: 'mid', children: [{ queue: 'leaf', payload: 1 }, { queue: 'leaf', payload: 2 }] },
        { queue: 'busy', payload: 'runs' },
      ],
    });
    await started.promise;
    const lost = next(worker, 'lost');
    await f.cancel('root', flow.id);
    for (const node of all(flow.tree)) expect((await s.queue(node.queue).getTask(node.id))?.state).toBe('cancelled');
    await lost; // the running child's lease was voided
    const tree = await f.get('root', flow.id);
    expect(tree?.children.map((c) => c.state)).toEqual(['cancelled', 'cancelled']);
  });
});

describe('retry', () => {
  it("lets a 'fail' parent that had not started go on once its failed child is retried", async () => {
    const s = scope();
    const f = flows(s);
    let healthy = false;
    s.worker<string, string>('kids', async (task) => {
      if (!healthy) throw new Error('down');
      return task.payload;
    });
    const parentRuns: string[][] = [];
    s.worker('top', async (_task, context) => {
      const results = Object.values(await context.children()).map((c) => String(c.result)).sort();
      parentRuns.push(results);
      return results;
    });
    const flow = await f.add({ queue: 'top', children: [{ queue: 'kids', payload: 'a', attempts: 1 }, { queue: 'other', payload: 'b' }] });
    await expect(flow.result({ timeoutMs: 10_000 })).rejects.toThrow(/child kids\/\d+ failed/);
    const [kid, other] = flow.tree.children;
    expect((await s.queue('other').getTask(other!.id))?.state).toBe('cancelled');

    healthy = true;
    await s.queue('kids').retry(kid!.id);
    expect((await s.queue('top').getTask(flow.id))?.state).toBe('dependencies');
    expect((await s.queue('other').getTask(other!.id))?.state).toBe('waiting'); // the sibling its failure cancelled runs again
    s.worker<string, string>('other', async (task) => task.payload);
    await expect(flow.result({ timeoutMs: 10_000 })).resolves.toEqual(['a', 'b']);
    expect(parentRuns).toEqual([['a', 'b']]);
  });
});

describe('remove', () => {
  it('removes a flow with its whole tree', async () => {
    const s = scope();
    const f = flows(s);
    const flow = await f.add({ queue: 'root', children: [{ queue: 'mid', children: [{ queue: 'leaf' }] }, { queue: 'leaf' }] });
    await f.remove('root', flow.id);
    for (const node of all(flow.tree)) expect(await s.queue(node.queue).getTask(node.id)).toBeNull();
    const keys = await s.client().keys(`${s.prefix}:*`);
    expect(keys.filter((key) => /:(task|deps|logs):/.test(key))).toEqual([]);
    for (const queue of ['root', 'mid', 'leaf']) expect((await s.queue(queue).counts()).dependencies).toBe(0);
  });
});

describe('creation cut short', () => {
  it('leaves nothing claimable without its root, and the sweep releases the leaves of a committed flow', async () => {
    const s = scope();
    const client = s.client();
    const k = new QueueKeys(s.prefix, 'leaf');
    const root = new QueueKeys(s.prefix, 'root');
    const node = (id: string, parent: string): flowScripts.FlowNodeRecord => ({
      id, payloadJson: '1', priority: 0, maxAttempts: 3, backoffJson: '', timeoutMs: undefined, parent, root: 'root|r1', childPolicy: '', chained: false, children: [],
    });
    // What an `add` writes before its commit: leaves waiting for a root that is not there.
    expect(await runScript(client, flowScripts.createNodes(k, [node('l1', 'root|r1'), node('l2', 'root|r1')]))).toBeUndefined();
    expect(await s.queue('leaf').counts()).toMatchObject({ waiting: 0, dependencies: 2 });
    // Stale now (as if created long ago): the sweep does not release a flow without its root.
    await client.zadd(k.held, Date.now() - STALE_NODE_MS - 1_000, 'l1', Date.now() - STALE_NODE_MS - 1_000, 'l2');
    const sweeper = new FlowHandOver(() => client, s.prefix);
    await sweeper.sweep('leaf');
    expect(await s.queue('leaf').counts()).toMatchObject({ waiting: 0, dependencies: 2 });
    // The commit (the root), then an `add` that died before releasing: the sweep releases them.
    await runScript(client, flowScripts.createNodes(root, [{ ...node('r1', ''), root: '', childPolicy: 'fail', children: ['leaf|l1', 'leaf|l2'] }]));
    await sweeper.sweep('leaf');
    expect(await s.queue('leaf').counts()).toMatchObject({ waiting: 2, dependencies: 0 });
    expect(await client.hget(k.task('l1'), TASK_FIELDS.parent)).toBe('root|r1');
    // A second sweep changes nothing.
    await sweeper.sweep('leaf');
    expect(await s.queue('leaf').counts()).toMatchObject({ waiting: 2, dependencies: 0 });
  });
});

describe('notices out of order', () => {
  it('ignores a notice older than one already applied, and a repeated one', async () => {
    const s = scope();
    const f = flows(s);
    const client = s.client();
    const flow = await f.add({ queue: 'top', children: [{ queue: 'kid', payload: 1 }, { queue: 'kid', payload: 2 }] });
    const [a, b] = flow.tree.children as [FlowNodeRef, FlowNodeRef];
    const top = new QueueKeys(s.prefix, 'top');
    const record = (child: FlowNodeRef, version: number, outcome: string) => runScript(client, flowScripts.recordOutcomes(top, flow.id, [{ child: `kid|${child.id}`, version, outcome }]));
    // a: failed (1), retried (2), completed (3); the retry's notice, read before the
    // completion replaced it, comes last.
    await record(a, 3, 'c"late"');
    expect(await record(a, 2, 'r')).toMatchObject({ applied: true, released: false, retry: [] });
    expect(await record(a, 3, 'c"late"')).toMatchObject({ released: false });
    expect((await f.get('top', flow.id))?.state).toBe('dependencies');
    expect(await record(b, 1, 'c"b"')).toMatchObject({ released: true });
    expect((await s.queue('top').getTask(flow.id))?.state).toBe('waiting');
  });
});

describe('a retry racing the cascade', () => {
  it("retries a sibling whose cascade cancel comes after the retry re-opened the parent, rather than failing it again", async () => {
    const s = scope();
    const f = flows(s);
    const client = s.client();
    const flow = await f.add({ queue: 'top', children: [{ queue: 'kid', payload: 1 }, { queue: 'kid', payload: 2 }] });
    const [a, b] = flow.tree.children as [FlowNodeRef, FlowNodeRef];
    const top = new QueueKeys(s.prefix, 'top');
    const record = (child: FlowNodeRef, version: number, outcome: string) => runScript(client, flowScripts.recordOutcomes(top, flow.id, [{ child: `kid|${child.id}`, version, outcome }]));
    // a fails: the parent fails, b is to be cancelled.
    expect(await record(a, 1, 'f{"name":"Error","message":"no"}')).toMatchObject({ cancel: [`kid|${b.id}`] });
    // a is retried before the cascade reached b: the parent waits again, b is to be retried.
    expect(await record(a, 2, 'r')).toMatchObject({ retry: [`kid|${b.id}`] });
    expect((await s.queue('top').getTask(flow.id))?.state).toBe('dependencies');
    // The cascade's cancel of b comes late: b is retried, the parent keeps waiting.
    expect(await record(b, 1, 'x')).toMatchObject({ retry: [`kid|${b.id}`], released: false });
    expect((await s.queue('top').getTask(flow.id))?.state).toBe('dependencies');
    await record(a, 3, 'c1');
    expect(await record(b, 3, 'c2')).toMatchObject({ released: true });
  });
});
