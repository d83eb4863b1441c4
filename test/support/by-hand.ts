/**
 * A worker's transitions run by hand (the same script calls a Worker makes), for tests that
 * must order a claim or a completion exactly against other events.
 */
import type { Queue } from '../../src/index.js';
import type { HeldLease } from '../../src/redis/queue-scripts.js';
import * as scripts from '../../src/redis/queue-scripts.js';
import { runScript } from '../../src/redis/scripts.js';

export type HandLease = HeldLease;

/** Leases up to `wanted` waiting tasks of the queue, as a worker's claim does. */
export async function claimByHand(queue: Queue<unknown, unknown>, wanted = 1): Promise<HandLease[]> {
  const reply = await runScript(queue.client, scripts.claim(queue.keys, { max: wanted, leaseMs: 30_000 }));
  return reply.tasks.map(({ id, token }) => ({ id, token }));
}

/** Completes a lease with a result (JSON text), as a worker does. */
export async function completeByHand(queue: Queue<unknown, unknown>, lease: HandLease, resultJson: string): Promise<void> {
  await runScript(queue.client, scripts.complete(queue.keys, { finished: [{ ...lease, resultJson }] }));
}
