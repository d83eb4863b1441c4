/**
 * Failovers on a real Redis Cluster (three masters with a replica each, node timeout 2 s),
 * under load:
 *
 * - a master killed (SIGKILL) with its replica in step, producers and workers asking for
 *   durability: they ride through the election by themselves, no acknowledged task is
 *   lost, and every awaited result is its own task's;
 * - a lossy failover (the replica falls behind, then takes over with what it has): the
 *   enqueues Redis lost are lost, and the test says how many, but no id is issued twice and
 *   no waiter takes another task's result;
 * - topics and live channels through a failover of their node.
 *
 * After each kill the old master is started again, and comes back as a replica.
 */
import { describe, expect, it, vi } from 'vitest';
import { Broadcast, Queue, ReplicationTimeoutError, TaskNotFoundError, Topic, Worker, type Task } from '../src/index.js';
import { QueueKeys, TopicKeys } from '../src/redis/keys.js';
import { slotOf } from '../src/redis/slot.js';
import { deferred, uniquePrefix } from './support/fixtures.js';
import { useCluster } from './support/redis-cluster.js';

const cluster = useCluster();

/** Rides through an election (node timeout 2 s, then a vote) with room to spare on a busy machine. */
const failoverMs = 20_000;

describe('Redis Cluster: failover', () => {
  it('rides through a master killed under load: nothing acknowledged is lost, every result is its own', async () => {
    const prefix = uniquePrefix();
    const connection = `${cluster.url}?failoverMs=${failoverMs}`;
    const durability = { replicas: 1, timeoutMs: 1_000 };
    const queue = new Queue<number, number>('steady', { connection, prefix, durability });
    const worker = new Worker<number, number>('steady', async (task) => task.payload * 2, {
      connection,
      prefix,
      concurrency: 20,
      durability,
    });
    await queue.configure({ retention: { completed: { count: 10_000 } } });
    const workerErrors: Error[] = [];
    worker.on('error', (error) => workerErrors.push(error)); // the election, and WAITs while no replica is back
    const slot = slotOf(queue.keys.fence);
    const owner = await cluster.owner(slot);
    await cluster.waitForReplicas(owner.master);
    const acknowledged: { id: string; payload: number }[] = [];
    const results: Promise<unknown>[] = [];
    const resultOf = (id: string, payload: number) =>
      results.push(
        queue
          .task(id)
          .result({ timeoutMs: 60_000 })
          .then((value) => expect(value).toBe(payload * 2)),
      );
    let rejoined: Promise<void> | undefined;
    try {
      let killed = false;
      for (let payload = 0; payload < 1_200; payload += 20) {
        const items = Array.from({ length: 20 }, (_, i) => ({ payload: payload + i }));
        let tasks: Task<number>[] | string[];
        try {
          tasks = await queue.enqueueMany(items);
        } catch (error) {
          // While the new master has no replica yet: written, but not replicated in time.
          if (!(error instanceof ReplicationTimeoutError)) throw error;
          tasks = error.written;
        }
        tasks.forEach((task, i) => {
          const id = typeof task === 'string' ? task : task.id;
          acknowledged.push({ id, payload: payload + i });
          resultOf(id, payload + i);
        });
        if (!killed && acknowledged.length >= 400) {
          killed = true;
          await owner.master.kill();
          rejoined = cluster.waitForNewOwner(slot, owner.masterId).then(() => cluster.rejoin(owner.master));
        }
      }
      const outcomes = await Promise.allSettled(results);
      expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
      await cluster.waitForNewOwner(slot, owner.masterId);
      expect(new Set(acknowledged.map((task) => task.id)).size).toBe(acknowledged.length);
      const counts = await queue.counts();
      expect(counts).toMatchObject({ waiting: 0, delayed: 0, failed: 0 });
      expect(counts.completed).toBe(acknowledged.length);
    } finally {
      await worker.close({ timeoutMs: 5_000 });
      await queue.close();
      await rejoined;
    }
  }, 120_000);

  it('after a lossy failover, issues no id twice and gives no waiter a foreign result', async () => {
    const prefix = uniquePrefix();
    const connection = `${cluster.url}?failoverMs=${failoverMs}`;
    // A queue whose master has its replica (the previous test may have left one without).
    let name = 'lossy';
    for (let n = 0; ; n++) {
      name = `lossy${n}`;
      const owner = await cluster.owner(slotOf(new QueueKeys(prefix, name).fence));
      if (owner.replica) break;
    }
    const queue = new Queue<number, number>(name, { connection, prefix });
    const worker = new Worker<number, number>(name, async (task) => task.payload * 2, { connection, prefix, concurrency: 10 });
    worker.on('error', () => {}); // the failover: reconnects, refused completions
    const slot = slotOf(queue.keys.fence);
    const owner = await cluster.owner(slot);
    try {
      const enqueue = async (from: number, count: number) => {
        const tasks = await queue.enqueueMany(Array.from({ length: count }, (_, i) => ({ payload: from + i })));
        return tasks.map((task, i) => ({ task, payload: from + i, result: task.result({ timeoutMs: 30_000 }).then((v) => ({ value: v }), (error: Error) => ({ error })) }));
      };
      const before = await enqueue(0, 200);
      for (const { result, payload } of before) expect(await result).toEqual({ value: payload * 2 });
      await cluster.waitForReplicas(owner.master);

      // The replica falls behind: these writes reach the master only, and will be lost.
      const detached = await cluster.detachReplica(slot);
      const doomed = await enqueue(1_000, 100);
      await cluster.takeOverLagging(slot, detached);
      const after = await enqueue(2_000, 200);

      // No id issued twice: the new master's counter was behind, the clock was not.
      const ids = [...before, ...doomed, ...after].map(({ task }) => task.id);
      expect(new Set(ids).size).toBe(ids.length);
      // Every waiter gets its own task's result, or hears that its task was lost.
      for (const { result, payload } of after) expect(await result).toEqual({ value: payload * 2 });
      let lost = 0;
      for (const { result, payload } of doomed) {
        const outcome = await result;
        if ('error' in outcome) {
          expect(outcome.error).toBeInstanceOf(TaskNotFoundError);
          lost++;
        } else {
          expect(outcome.value).toBe(payload * 2);
        }
      }
      console.log(`lossy failover: ${lost} of ${doomed.length} acknowledged enqueues were lost with the old master's unreplicated writes`);
      expect(lost).toBeGreaterThan(0);
    } finally {
      await worker.close({ timeoutMs: 5_000 });
      await queue.close();
      await cluster.rejoin(owner.master);
    }
    // Two failovers' waits and a node's rejoin (up to 30 s): a loaded CI run took its whole 120 s.
  }, 180_000);

  it('keeps topics and live channels going through a failover of their node', async () => {
    const prefix = uniquePrefix();
    const connection = `${cluster.url}?failoverMs=${failoverMs}`;
    // The topic lives on the master that also holds the live-channel subscriptions (the
    // first master by address), so one kill moves both.
    const nodes = await cluster.topology();
    const first = nodes.filter((n) => n.master && !n.failed && n.slots.length).sort((a, b) => (a.address < b.address ? -1 : 1))[0]!;
    let name = 't';
    for (let n = 0; ; n++) {
      name = `orders${n}`;
      const slot = slotOf(new TopicKeys(prefix, name).fence);
      if (first.slots.some(([from, to]) => slot >= from && slot <= to)) break;
    }
    const slot = slotOf(new TopicKeys(prefix, name).fence);
    // Its master has a live replica to take over (the previous test's node may still be rejoining).
    const owner = await cluster.ownerWithReplica(slot);

    const topic = new Topic<number>(name, { connection, prefix });
    const received = new Set<number>();
    const allReceived = deferred();
    const subscription = topic.subscribe('audit', async (message) => {
      received.add(message);
      if (received.size === 100) allReceived.resolve();
    }, { concurrency: 10 });
    subscription.on('error', () => {}); // reconnects during the failover
    await subscription.ready();
    const bus = new Broadcast<number>({ connection, prefix });
    const heard: number[] = [];
    let afterHeard = deferred();
    await bus.subscribe('news', (message) => {
      heard.push(message);
      if (message >= 1_000) afterHeard.resolve();
    });
    try {
      expect(await bus.publish('news', 1)).toBeGreaterThanOrEqual(1);
      await topic.publishMany(Array.from({ length: 50 }, (_, i) => i));
      await cluster.waitForReplicas(owner.master);
      const resubscribed = new Promise<void>((resolve) => bus.once('resubscribed', () => resolve()));
      await owner.master.kill();
      // Published while the election runs: the calls wait for the new master.
      await topic.publishMany(Array.from({ length: 50 }, (_, i) => 50 + i));
      await cluster.waitForNewOwner(slot, owner.masterId);
      await resubscribed;
      afterHeard = deferred();
      // 'resubscribed' can come before the new master serves the channel to this subscriber
      // (seen once in a loaded CI run: no receiver): publish until one hears it, a while at most.
      await vi.waitFor(async () => expect((await bus.publishCounted('news', 1_000)).receivers).toBeGreaterThanOrEqual(1), { timeout: 10_000, interval: 200 });
      await afterHeard.promise;
      await allReceived.promise;
      expect(received.size).toBe(100);
      expect(heard).toContain(1);
    } finally {
      await subscription.close({ timeoutMs: 5_000 });
      await topic.close();
      await bus.close();
      await cluster.rejoin(owner.master);
    }
  }, 120_000);
});
