import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { Queue, Worker } from '../src/index.js';
import { uniquePrefix } from './support/fixtures.js';
import { RedisCluster } from './support/redis-cluster.js';

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await RedisCluster.start();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

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
