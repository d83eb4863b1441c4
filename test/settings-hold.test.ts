/**
 * The `configuring` hold of a partitioned queue's settings, pause and group changes: a
 * change whose SET of the hold reached Redis but whose reply was lost (the connection
 * dropped right after) fails with RedisUnavailableError and releases that hold, instead
 * of leaving every other change to wait for its expiry. The lost reply is made by letting
 * the real SET run and then failing the call, as a dropped connection would.
 */
import { describe, expect, it } from 'vitest';
import { Queue, RedisUnavailableError } from '../src/index.js';
import { QueueKeys } from '../src/redis/keys.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

describe('a settings hold whose reply was lost', () => {
  it.each([
    ['configure', (queue: Queue) => queue.configure({ maxWaiting: 10 })],
    ['pause', (queue: Queue) => queue.pause()],
    ['pauseGroup', (queue: Queue) => queue.pauseGroup('g')],
  ] as const)('is released (%s)', async (_, change) => {
    const s = scope();
    const client = s.client();
    const queue = s.add(new Queue('lost', { connection: client, prefix: s.prefix }));
    await queue.configure({ partitions: 2 });
    const hold = new QueueKeys(s.prefix, 'lost').configuring;
    const set = client.set.bind(client) as (...args: unknown[]) => Promise<unknown>;
    (client as unknown as { set: unknown }).set = async (...args: unknown[]) => {
      const reply = await set(...args);
      if (args[0] === hold) throw new Error('Connection is closed.');
      return reply;
    };
    await expect(change(queue)).rejects.toBeInstanceOf(RedisUnavailableError);
    expect(await s.client().exists(hold)).toBe(0);
  });
});
