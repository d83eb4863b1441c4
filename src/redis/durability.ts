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
import { Cluster, ReplyError } from 'ioredis';
import type { Durability } from '../config.js';
import { ReplicationTimeoutError } from '../errors.js';
import { failoverBudgetOf } from './connection.js';
import { isFunctionMissing, forgetLibrary } from './functions.js';
import { defineScripts, pipeScript, prepareScripts, type RedisClient, type ScriptCall } from './scripts.js';

/**
 * A reply error that means the call did not run: the slot is elsewhere or moving, or the
 * cluster is electing a master. Redis's redirection replies are a protocol, read as such.
 */
function refused(error: Error): boolean {
  return /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /.test(error.message);
}

/**
 * Runs `calls` in one pipeline followed by WAIT; resolves with their decoded replies and how
 * many replicas acknowledged them. A failed call rejects with its own error. A pipeline
 * refused by a cluster (its calls did not run) or cut by a lost connection (they may have:
 * each call is safe to repeat, or as safe as ioredis's own retry of a lost command) is sent
 * again, within the client's failover budget: ioredis follows redirections of single
 * commands itself, not of a pipeline whose WAIT was answered while its script was not.
 */
export async function runReplicated<T extends unknown[]>(
  client: RedisClient,
  calls: { [K in keyof T]: ScriptCall<T[K]> },
  durability: Durability,
): Promise<{ replies: T; acknowledged: number }> {
  defineScripts(client, calls.map((call) => call.name));
  const deadline = Date.now() + failoverBudgetOf(client);
  // Each call's outcome once it ran. A call that found the library missing did not run, and
  // only those are sent again, on the same connection (Redis runs a pipeline call by call:
  // another client may load the library between two of them); the WAIT that follows covers
  // the ones that ran before.
  const outcomes: ([Error | null, unknown] | undefined)[] = calls.map(() => undefined);
  let todo = calls.map((_, index) => index);
  let reloads = 0;
  for (let attempt = 0; ; attempt++) {
    await prepareScripts(client);
    const pipeline = client.pipeline();
    for (const index of todo) pipeScript(pipeline, calls[index]!);
    pipeline.call('WAIT', durability.replicas, durability.timeoutMs);
    let results: [Error | null, unknown][];
    try {
      results = (await pipeline.exec()) ?? [];
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await retryPause(client, attempt);
      continue;
    }
    const again: number[] = [];
    let missing = false;
    let redirected = false;
    todo.forEach((index, position) => {
      const result = results[position] ?? [new Error('no reply'), undefined];
      const [error] = result;
      // A node without the scripts' library (restarted, or new): this call did not run.
      if (error && isFunctionMissing(error) && reloads < 3) {
        missing = true;
        again.push(index);
      } else if (error && (refused(error) || !(error instanceof ReplyError)) && Date.now() < deadline) {
        redirected = true;
        again.push(index);
      } else {
        outcomes[index] = result;
      }
    });
    const waited = results[todo.length] ?? [new Error('no reply to WAIT'), 0];
    if (redirected) {
      // Refused or cut off: the calls that ran may have run on a node or connection the next
      // WAIT will not be on, so nothing counts as done yet: every call is sent again (each
      // is safe to repeat, or as safe as ioredis's own retry of a lost command).
      again.splice(0, again.length, ...calls.map((_, index) => index));
      outcomes.fill(undefined);
    }
    if (again.length) {
      todo = again;
      if (missing) {
        reloads++;
        forgetLibrary(client);
      }
      if (redirected) await retryPause(client, attempt);
      continue;
    }
    const replies = calls.map((_, index) => {
      const [error, reply] = outcomes[index]!;
      if (error) throw error;
      return calls[index]!.decode(reply);
    }) as T;
    // The last WAIT followed every call that ran, on the same connection: it counts for all.
    const [waitError, acknowledged] = waited;
    if (waitError) throw waitError;
    return { replies, acknowledged: Number(acknowledged) };
  }
}

/** Before sending a refused pipeline again: a fresh slot map on a Cluster, and a short wait. */
async function retryPause(client: RedisClient, attempt: number): Promise<void> {
  if (client instanceof Cluster) await new Promise<void>((resolve) => client.refreshSlotsCache(() => resolve()));
  await new Promise((resolve) => setTimeout(resolve, Math.min(100 * (attempt + 1), 500)));
}

/** The error for too few acknowledgements, or undefined when there were enough. */
export function shortfall(durability: Durability, acknowledged: number, written: string[] = []): ReplicationTimeoutError | undefined {
  return acknowledged < durability.replicas ? new ReplicationTimeoutError(acknowledged, durability.replicas, durability.timeoutMs, written) : undefined;
}
