/**
 * Opt-in durability: a write that waits until replicas have it.
 *
 * Redis replicates asynchronously, so a failover can lose the writes its new primary had
 * not received yet. With `durability: { replicas, timeoutMs }`, a script call is followed on
 * the same connection (the same node, on a cluster: one pipeline) by `WAIT replicas
 * timeoutMs`, which returns once that many replicas acknowledged every write before it, or
 * the time is up. Fewer acknowledgements throw ReplicationTimeoutError: the write stands on
 * the primary, but a failover could still lose it.
 */
import type { Durability } from '../config.js';
import { ReplicationTimeoutError } from '../errors.js';
import { defineScripts, pipeScript, type RedisClient, type ScriptCall } from './scripts.js';

/**
 * Runs `calls` in one pipeline followed by WAIT; resolves with their decoded replies and how
 * many replicas acknowledged them. A failed call rejects with its own error.
 */
export async function runReplicated<T extends unknown[]>(
  client: RedisClient,
  calls: { [K in keyof T]: ScriptCall<T[K]> },
  durability: Durability,
): Promise<{ replies: T; acknowledged: number }> {
  defineScripts(client, calls.map((call) => call.name));
  const pipeline = client.pipeline();
  const decoders = calls.map((call) => pipeScript(pipeline, call));
  pipeline.call('WAIT', durability.replicas, durability.timeoutMs);
  const results = (await pipeline.exec()) ?? [];
  const replies = decoders.map((decode, index) => {
    const [error, reply] = results[index] ?? [];
    if (error) throw error;
    return decode(reply);
  }) as T;
  const [waitError, acknowledged] = results[calls.length] ?? [];
  if (waitError) throw waitError;
  return { replies, acknowledged: Number(acknowledged) };
}

/** The error for too few acknowledgements, or undefined when there were enough. */
export function shortfall(durability: Durability, acknowledged: number, written: string[] = []): ReplicationTimeoutError | undefined {
  return acknowledged < durability.replicas ? new ReplicationTimeoutError(acknowledged, durability.replicas, durability.timeoutMs, written) : undefined;
}
