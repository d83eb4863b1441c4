/**
 * Flows survive worker crashes: a SIGKILL between a child's completion and its parent's
 * bookkeeping delays the parent (the sweep applies the notice) but never loses or doubles
 * it; workers killed at random through a flow of 5,051 nodes lose nothing, and every
 * parent runs once (again only after a lease expired).
 */
import { describe, expect, it } from 'vitest';
import { Flows, type FlowNode } from '../src/index.js';
import { QueueKeys } from '../src/redis/keys.js';
import { Child } from './support/child.js';
import { useRedis, useScope, type TestScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

function flowWorkers(s: TestScope, queues: string[], runsKey: string, extra: Record<string, string> = {}): Child {
  const previous = { ...process.env };
  Object.assign(process.env, { REDIS_URL: redis.url, PREFIX: s.prefix, QUEUES: queues.join(','), LEASE_MS: '900', RUNS_KEY: runsKey, ...extra });
  try {
    return s.add(new Child('flows-worker.ts', []));
  } finally {
    process.env = previous;
  }
}

describe('a worker killed between a child and its parent', () => {
  it('delays the parent until the sweep applies the notice; the parent runs once', async () => {
    const s = scope();
    const flows = s.add(new Flows({ connection: redis.url, prefix: s.prefix }));
    const runsKey = `${s.prefix}:test-runs`;
    const flow = await flows.add<number>({ queue: 'top', payload: 100, children: [1, 2, 3].map((n) => ({ queue: 'kids', payload: n })) });
    const doomed = flowWorkers(s, ['kids'], runsKey, { KILL_AFTER_CHILD: '1' });
    await doomed.line((line) => line === 'ready');
    // It dies right after the first child's completion is recorded, its notice unapplied.
    const notices = new QueueKeys(s.prefix, 'kids').notices;
    const client = s.client();
    await expect(doomed.line(() => false)).rejects.toThrow(/exited/);
    const left = await client.hgetall(notices);
    expect(Object.keys(left).length).toBeGreaterThanOrEqual(1); // its batch of completions
    for (const notice of Object.values(left)) expect(notice).toMatch(new RegExp(`^top\\|${flow.id}\\|1\\|c`));
    // Workers that come later apply it (their sweep) and run the rest: the parent once.
    const runs: string[] = [];
    s.worker<number, number>('kids', async (task) => task.payload, { leaseMs: 600 });
    s.worker<number, number>('top', async (task, context) => {
      runs.push(task.id);
      return Object.values(await context.children()).reduce((sum, child) => sum + Number(child.result), task.payload);
    }, { leaseMs: 600 });
    await expect(flow.result({ timeoutMs: 10_000 })).resolves.toBe(106);
    expect(runs).toEqual([flow.id]);
    expect(await client.hlen(notices)).toBe(0);
  });
});

describe('workers killed at random through a flow of 5,051 nodes', () => {
  it('loses nothing, and runs each parent once unless its own lease expired', async () => {
    const s = scope();
    const flows = s.add(new Flows({ connection: redis.url, prefix: s.prefix }));
    const runsKey = `${s.prefix}:test-runs`;
    for (const queue of ['fl-root', 'fl-mid', 'fl-leaf']) await s.queue(queue).configure({ retention: { completed: { count: 10_000 } } });
    // 50 parents of 100 leaves each, under one root; every payload 1: the root's result counts every node.
    const tree: FlowNode<number> = {
      queue: 'fl-root',
      payload: 1,
      children: Array.from({ length: 50 }, () => ({ queue: 'fl-mid', payload: 1, children: Array.from({ length: 100 }, () => ({ queue: 'fl-leaf', payload: 1 })) })),
    };
    const flow = await flows.add<number>(tree);
    const queues = ['fl-leaf', 'fl-mid', 'fl-root'];
    // Kill and restart workers for up to ~6 s, once each has done some work.
    const deadline = Date.now() + 6_000;
    let kills = 0;
    let workers = [flowWorkers(s, queues, runsKey), flowWorkers(s, queues, runsKey)];
    while (Date.now() < deadline && kills < 4) {
      const victim = workers[kills % 2]!;
      const done = await Promise.race([victim.line((line) => line.startsWith('done ')).then(() => true), flow.result().then(() => false, () => false)]);
      if (!done) break;
      await victim.kill();
      kills++;
      workers = workers.map((w) => (w === victim ? flowWorkers(s, queues, runsKey) : w));
    }
    await expect(flow.result({ timeoutMs: 30_000 })).resolves.toBe(5_051);
    const runs = await s.client().hgetall(runsKey);
    const parents = Object.keys(runs).filter((key) => !key.startsWith('fl-leaf/'));
    expect(parents).toHaveLength(51);
    for (const key of Object.keys(runs).filter((k) => Number(runs[k]) > 1)) {
      const [queue, id] = key.split('/') as [string, string];
      const info = await s.queue(queue).getTask(id);
      const expired = info!.attempts.filter((a) => a.error.name === 'LeaseExpiredError').length;
      // Every run beyond the first is explained by a lease that expired (a killed worker's).
      expect(Number(runs[key])).toBeLessThanOrEqual(1 + expired);
    }
    expect(Object.keys(runs)).toHaveLength(5_051);
    expect(kills).toBeGreaterThan(0);
  }, 60_000);
});
