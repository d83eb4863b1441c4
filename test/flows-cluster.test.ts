/**
 * Flows on a Redis Cluster with their queues on different shards: no script touches two
 * slots (the hand-over goes through notices), and fan-in, trees, chains, the failure
 * policy, cancellation, retry and removal work as on one server.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { Flows, Queue, TaskFailedError, Worker, type ChildOutcome } from '../src/index.js';
import { QueueKeys } from '../src/redis/keys.js';
import { slotOf } from '../src/redis/slot.js';
import { uniquePrefix } from './support/fixtures.js';
import { useCluster } from './support/redis-cluster.js';

const cluster = useCluster();

const names = ['alpha', 'beta', 'gamma', 'delta'];

describe('flows on a Redis Cluster', () => {
  it('run across queues on different shards: fan-in, a tree, a chain, a failure, a retry, a cancel and a removal', { timeout: 60_000 }, async () => {
    const prefix = uniquePrefix();
    const flows = new Flows({ connection: cluster.url, prefix });
    let healthy = false;
    const errors: Error[] = [];
    const workers = names.map((name) => {
      const worker = new Worker<unknown, unknown>(
        name,
        async (task, context) => {
          if (task.payload === 'flaky' && !healthy) throw new Error('not yet');
          const children = Object.values(await context.children()) as ChildOutcome<number>[];
          if (task.previous !== undefined) return Number(task.previous) * 2;
          if (children.length) return children.reduce((sum, child) => sum + Number(child.result), 0);
          return typeof task.payload === 'number' ? task.payload : 1;
        },
        { connection: cluster.url, prefix, concurrency: 20, leaseMs: 1_500 },
      );
      worker.on('error', (error) => errors.push(error));
      return worker;
    });
    const extra: Queue[] = [];
    try {
      // The queues really are spread over the shards.
      const probe = new Cluster(cluster.nodes.map((n) => ({ host: n.host, port: n.port })));
      await probe.ping();
      const owners = new Set(names.map((name) => probe.slots[slotOf(`${prefix}:{${name}}:meta`)]?.[0]));
      probe.disconnect();
      expect(owners.size).toBeGreaterThan(1);

      // Fan-in of 300 children spread over every queue, into one parent.
      const fanIn = await flows.add<number>({ queue: 'alpha', children: Array.from({ length: 300 }, (_, i) => ({ queue: names[i % 4]!, payload: i })) });
      // Three levels, each level on other queues.
      const tree = await flows.add<number>({
        queue: 'beta',
        children: [
          { queue: 'gamma', children: [{ queue: 'delta', payload: 5 }, { queue: 'alpha', payload: 6 }] },
          { queue: 'delta', payload: 7 },
        ],
      });
      // A chain hopping shards: 3 → 6 → 12 → 24.
      const chain = await flows.chain<number>([{ queue: 'alpha', payload: 3 }, { queue: 'beta' }, { queue: 'gamma' }, { queue: 'delta' }]);
      await expect(fanIn.result({ timeoutMs: 20_000 })).resolves.toBe((299 * 300) / 2);
      await expect(tree.result({ timeoutMs: 20_000 })).resolves.toBe(18);
      await expect(chain.result({ timeoutMs: 20_000 })).resolves.toBe(24);

      // A child fails a 'fail' parent on another shard; retried, it lets the parent go on.
      const failing = await flows.add<number>({ queue: 'gamma', children: [{ queue: 'delta', payload: 'flaky', attempts: 1 }, { queue: 'alpha', payload: 2 }] });
      await expect(failing.result({ timeoutMs: 20_000 })).rejects.toBeInstanceOf(TaskFailedError);
      healthy = true;
      const delta = new Queue('delta', { connection: cluster.url, prefix });
      extra.push(delta);
      await delta.retry(failing.tree.children[0]!.id);
      await expect(failing.result({ timeoutMs: 20_000 })).resolves.toBe(3);

      // Cancelling a parent cancels its descendants on other shards (no worker serves 'epsilon').
      const idle = await flows.add({ queue: 'alpha', children: [{ queue: 'epsilon', children: [{ queue: 'epsilon', payload: 1 }] }] });
      await flows.cancel('alpha', idle.id);
      const seen = await flows.get('alpha', idle.id);
      expect(seen?.state).toBe('cancelled');
      expect(seen?.children[0]?.state).toBe('cancelled');
      expect(seen?.children[0]?.children[0]?.state).toBe('cancelled');
      // Removing it removes the tree.
      await flows.remove('alpha', idle.id);
      expect(await flows.get('epsilon', idle.tree.children[0]!.id)).toBeNull();

      // Nothing is left to hand over.
      const client = new Cluster(cluster.nodes.map((n) => ({ host: n.host, port: n.port })));
      try {
        for (const name of [...names, 'epsilon']) expect(await client.hlen(new QueueKeys(prefix, name).notices)).toBe(0);
      } finally {
        client.disconnect();
      }
      expect(errors).toEqual([]);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(extra.map((q) => q.close()));
      await flows.close();
    }
  });
});
