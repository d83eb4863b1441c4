/**
 * A busy queue's slot moved to another master, key batch by key batch as a reshard does,
 * while producers enqueue and workers drain a 30,000-task backlog: every script call made
 * while the slot is half moved is refused before it starts (its fence), waits and goes on,
 * so nothing is lost, nothing is stranded, and every key agrees with counts().
 */
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Queue, Worker } from '../src/index.js';
import { slotOf } from '../src/redis/slot.js';
import { TASK_FIELDS } from '../src/redis/keys.js';
import { uniquePrefix } from './support/fixtures.js';
import { useCluster } from './support/redis-cluster.js';

const cluster = useCluster();

const BACKLOG = 30_000;

describe('Redis Cluster: resharding a busy queue', () => {
  it('loses nothing and strands nothing while its slot moves under load', async () => {
    const prefix = uniquePrefix();
    const connection = cluster.url;
    const queue = new Queue<number, number>('busy', { connection, prefix });
    const slot = slotOf(queue.keys.fence);
    const handled = new Map<string, number>();
    const errors: Error[] = [];
    let workers: Worker<number, number>[] = [];
    try {
      await queue.configure({ retention: { completed: { count: 1_000_000 } } });
      for (let start = 0; start < BACKLOG; start += 5_000) {
        await queue.enqueueMany(Array.from({ length: 5_000 }, (_, i) => ({ payload: start + i })));
      }
      let completed = 0;
      let allDone: () => void = () => {};
      let expected = Infinity;
      const done = new Promise<void>((resolve) => (allDone = resolve));
      workers = [1, 2].map(() => {
        const worker = new Worker<number, number>(
          'busy',
          async (task) => {
            handled.set(task.id, (handled.get(task.id) ?? 0) + 1);
            return task.payload * 2;
          },
          { connection, prefix, concurrency: 50 },
        );
        // Redirections and refusals are retried inside the client: the worker sees none.
        worker.on('error', (error) => errors.push(error));
        worker.on('completed', () => {
          if (++completed >= expected) allDone();
        });
        return worker;
      });

      // Producers go on while the slot moves.
      let moving = true;
      let produced = BACKLOG;
      const producing = (async () => {
        while (moving && produced < BACKLOG + 5_000) {
          const tasks = await queue.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ payload: produced + i })));
          produced += tasks.length;
        }
      })();
      const owner = await cluster.owner(slot);
      const target = await cluster.otherMaster(owner.masterId);
      const moved = await cluster.migrateSlot(slot, target.id, { batch: 100, between: () => new Promise((resolve) => setImmediate(resolve)) });
      moving = false;
      await producing;
      expect(moved).toBeGreaterThan(1_000); // the slot really was busy while it moved
      expected = produced;
      if (completed >= expected) allDone();
      await done;

      // Nothing lost: every task completed, and counts() agrees with the keys.
      expect(await queue.counts()).toMatchObject({ waiting: 0, delayed: 0, active: 0, failed: 0, completed: produced });
      const node = new Redis(target.node.port, target.node.host);
      const old = new Redis(owner.master.port, owner.master.host);
      try {
        expect(await old.cluster('COUNTKEYSINSLOT', slot)).toBe(0);
        const ids = await node.lrange(queue.keys.completed, 0, -1);
        expect(new Set(ids).size).toBe(produced);
        // Nothing stranded: every task hash is completed, and in the completed list.
        const taskKeys: string[] = [];
        let cursor = '0';
        do {
          const [next, found] = await node.scan(cursor, 'MATCH', `${queue.keys.task('')}*`, 'COUNT', 5_000);
          cursor = next;
          taskKeys.push(...found);
        } while (cursor !== '0');
        expect(taskKeys).toHaveLength(produced);
        const pipeline = node.pipeline();
        for (const key of taskKeys) pipeline.hmget(key, TASK_FIELDS.state, TASK_FIELDS.history);
        const states = ((await pipeline.exec()) ?? []).map(([, value]) => value as [string, string | null]);
        expect(states.filter(([state]) => state !== 'c')).toEqual([]);
        // Every task ran; a task that ran twice lost its first lease by expiry, and says so.
        expect(handled.size).toBe(produced);
        const twice = [...handled].filter(([, runs]) => runs > 1).map(([id]) => id);
        for (const id of twice) expect(await node.hget(queue.keys.task(id), TASK_FIELDS.history)).toContain('LeaseExpiredError');
      } finally {
        node.disconnect();
        old.disconnect();
      }
      expect(errors.map((error) => error.message)).toEqual([]);
    } finally {
      await Promise.all(workers.map((worker) => worker.close({ timeoutMs: 5_000 })));
      await queue.close();
    }
  }, 120_000);
});
