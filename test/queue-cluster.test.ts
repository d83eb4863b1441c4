import { describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { Queue, Worker } from '../src/index.js';
import { uniquePrefix } from './support/fixtures.js';
import { useCluster } from './support/redis-cluster.js';

const cluster = useCluster();

describe('Redis Cluster', () => {
  it('hosts queues on different shards, each working end to end', async () => {
    const prefix = uniquePrefix();
    // Names chosen to land on different slots; every key of one queue shares its hash tag.
    const names = ['alpha', 'beta', 'gamma', 'delta'];
    const queues = names.map((name) => new Queue<number, string>(name, { connection: cluster.url, prefix }));
    const workers = names.map(
      (name) => new Worker<number, string>(name, async (task) => `${name}:${task.payload}`, { connection: cluster.url, prefix, concurrency: 5 }),
    );
    const errors: Error[] = [];
    workers.forEach((w) => w.on('error', (e) => errors.push(e)));
    try {
      const results = await Promise.all(
        queues.map(async (queue) => {
          const tasks = await queue.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ payload: i, priority: i % 3 })));
          const delayed = await queue.enqueue(99, { delayMs: 50 });
          return Promise.all([...tasks, delayed].map((t) => t.result({ timeoutMs: 20_000 })));
        }),
      );
      results.forEach((values, i) => {
        expect(values).toHaveLength(51);
        expect(values[50]).toBe(`${names[i]}:99`);
      });
      for (const queue of queues) expect(await queue.counts()).toMatchObject({ waiting: 0, active: 0, completed: 51 });

      // The queues really are spread: their hash tags map to more than one node.
      const probe = new Cluster(cluster.nodes.map((n) => ({ host: n.host, port: n.port })));
      await probe.ping();
      const owners = new Set(queues.map((q) => probe.slots[clusterSlot(q.keys.meta)]?.[0]));
      probe.disconnect();
      expect(owners.size).toBeGreaterThan(1);
      expect(errors).toEqual([]);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(queues.map((q) => q.close()));
    }
  });
});

describe('schedules on a Redis Cluster', () => {
  it('fire on every shard: one task per slot for queues on different shards, cron slots computed again there', { timeout: 60_000 }, async () => {
    const prefix = uniquePrefix();
    const names = ['alpha', 'beta', 'gamma'];
    const queues = names.map((name) => new Queue(name, { connection: cluster.url, prefix }));
    const ran = new Map<string, string[]>(names.map((name) => [name, []]));
    const workers = names.map(
      (name) => new Worker(name, async (task) => void ran.get(name)!.push(task.id), { connection: cluster.url, prefix, concurrency: 2 }),
    );
    const errors: Error[] = [];
    workers.forEach((w) => w.on('error', (e) => errors.push(e)));
    const probe = new Cluster(cluster.nodes.map((n) => ({ host: n.host, port: n.port })));
    try {
      await probe.ping();
      expect(new Set(queues.map((q) => probe.slots[clusterSlot(q.keys.meta)]?.[0])).size).toBeGreaterThan(1);
      await Promise.all(queues.map((queue) => queue.schedule('every', { everyMs: 1_000 })));
      await Promise.all(queues.map((queue) => queue.schedule('cron', { cron: '* * * * * *' })));
      // Few cron slots left ahead on every shard: the workers compute more there.
      await Promise.all(queues.map((queue) => probe.ltrim(queue.keys.scheduleSlots('cron'), 0, 2)));
      await expect.poll(() => Math.min(...[...ran.values()].map((ids) => ids.filter((id) => id.startsWith('sched:cron:')).length)), { timeout: 20_000 }).toBeGreaterThanOrEqual(5);
      for (const [name, ids] of ran) {
        for (const schedule of ['every', 'cron']) {
          const slots = ids.filter((id) => id.startsWith(`sched:${schedule}:`)).map((id) => Number(id.split(':')[2])).sort((a, b) => a - b);
          expect([name, schedule, slots.every((slot, i) => i === 0 || slot - slots[i - 1]! === 1_000)]).toEqual([name, schedule, true]);
          expect([name, schedule, new Set(slots).size]).toEqual([name, schedule, slots.length]);
        }
      }
      for (const queue of queues) expect(await probe.llen(queue.keys.scheduleSlots('cron'))).toBeGreaterThan(50);
      expect(errors).toEqual([]);
    } finally {
      probe.disconnect();
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(queues.map((q) => q.close()));
    }
  });
});

/** The slot of a key, as Redis computes it (CRC16 of the hash tag, mod 16384). */
function clusterSlot(key: string): number {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  const tag = open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(tag)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
