/**
 * Review probe (not for merge as is): a partitioned settings change or pause whose SET NX
 * of `configuring` reached Redis but whose reply was lost releases that hold.
 */
import { describe, expect, it } from 'vitest';
import { Queue, RedisUnavailableError } from '../src/index.js';
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
    const name = 'lost';
    const client = s.client();
    const queue = s.add(new Queue(name, { connection: client, prefix: s.prefix }));
    await queue.configure({ partitions: 2 });
    const set = client.set.bind(client) as (...args: unknown[]) => Promise<unknown>;
    (client as unknown as { set: unknown }).set = async (...args: unknown[]) => {
      const reply = await set(...args);
      if (String(args[0]).endsWith(':configuring')) throw new Error('Connection is closed.');
      return reply;
    };
    await expect(change(queue)).rejects.toBeInstanceOf(RedisUnavailableError);
    expect(await s.client().exists(`${s.prefix}:{${name}}:configuring`)).toBe(0);
  });
});
