/**
 * A worker's transitions run by hand (the same scripts a Worker calls), for tests that must
 * order a claim or a completion exactly against other events.
 */
import type { Queue } from '../../src/index.js';
import { QueueKeys } from '../../src/redis/keys.js';
import { defineScripts, runScript } from '../../src/redis/scripts.js';

export interface HandLease {
  id: string;
  token: string;
}

/** Leases up to `wanted` waiting tasks of the queue, as a worker's claim does. */
export async function claimByHand(queue: Queue<unknown, unknown>, wanted = 1): Promise<HandLease[]> {
  const k = new QueueKeys(queue.options.prefix, queue.name);
  defineScripts(queue.client, ['claim', 'complete']);
  const reply = (await runScript(queue.client, 'claim', [k.meta, k.priorities, k.delayed, k.active, k.wake], [
    k.base, wanted, 30_000, 'test-worker', 100, 60_000,
  ])) as unknown[];
  const leases: HandLease[] = [];
  for (let i = 2; i < reply.length; i += 8) leases.push({ id: String(reply[i]), token: String(reply[i + 1]) });
  return leases;
}

/** Completes a lease with a result (JSON text), keeping `keepCount` completed tasks, as a worker does. */
export async function completeByHand(queue: Queue<unknown, unknown>, lease: HandLease, resultJson: string, keepCount = 1_000): Promise<void> {
  const k = new QueueKeys(queue.options.prefix, queue.name);
  await runScript(queue.client, 'complete', [k.meta, k.active, k.completed], [k.base, keepCount, 0, lease.id, lease.token, resultJson]);
}
