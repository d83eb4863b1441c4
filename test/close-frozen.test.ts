/**
 * Closing while Redis is frozen (a stalled server, or a Cluster node that is down): a
 * Queue's and a Worker's close() end within a bound instead of waiting for answers (QUIT,
 * UNSUBSCRIBE, the last writes) that do not come. Before, both waited for good.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Queue, Worker } from '../src/index.js';
import { RedisServer } from './support/redis-server.js';
import { uniquePrefix } from './support/fixtures.js';

let server: RedisServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe('close() while Redis answers nothing', () => {
  it('ends for a queue and a worker', async () => {
    server = await RedisServer.start();
    const prefix = uniquePrefix();
    const queue = new Queue<number>('frozen', { connection: server.url, prefix });
    const worker = new Worker<number>('frozen', async () => 1, { connection: server.url, prefix });
    await (await queue.enqueue(1)).result({ timeoutMs: 5_000 });
    await server.pause();
    const started = Date.now();
    await Promise.all([queue.close(), worker.close({ timeoutMs: 1_000 })]);
    // The worker's 1 s, then a second or two for each step that Redis would answer.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('ends for a queue with an enqueue on its way, which hears that the connection closed', async () => {
    server = await RedisServer.start();
    const queue = new Queue<number>('frozen', { connection: server.url, prefix: uniquePrefix() });
    await queue.enqueue(1);
    await server.pause();
    const sent = queue.enqueue(2).then(
      () => 'written',
      (error: Error) => error.name,
    );
    const started = Date.now();
    await queue.close();
    // Its 10 s for what was accepted before the close, then a second for QUIT.
    expect(Date.now() - started).toBeLessThan(16_000);
    expect(await sent).toBe('RedisUnavailableError');
  });
});
