/**
 * Refuses a Redis that may evict queue keys. Under an `allkeys-*` policy a full Redis
 * drops any key, a task's hash or a queue's index among them, and the tasks are gone
 * without an error anywhere. So workers, the gateway and the CLI read `maxmemory-policy`
 * when they connect and on every reconnect (EvictionGuard), and refuse to run when it is
 * not safe, unless the operator accepted the risk (`unsafeAllowEviction`).
 *
 * Safe: `noeviction` (a full Redis refuses writes: REDIS_OUT_OF_MEMORY, nothing lost), and
 * the `volatile-*` policies, which evict only keys with a TTL: the only Errand keys with one
 * are the per-minute throughput counters (`stats:<hour>`), whose loss costs chart history,
 * never a task. (If a queue key ever gets a TTL, the volatile policies leave this list.)
 *
 * The policy is read with `CONFIG GET`; where CONFIG is renamed or forbidden (managed
 * services, ACLs), from `INFO memory`; where both are refused, it is unknown, which is
 * refused too: the message says how to accept it.
 */
import { Cluster } from 'ioredis';
import { UnsafeEvictionPolicyError } from '../errors.js';
import type { RedisClient } from './scripts.js';

export const SAFE_EVICTION_POLICIES: readonly string[] = ['noeviction', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl'];

/** How to accept the risk, named in every refusal. */
export const EVICTION_OVERRIDE_HINT =
  'or, accepting that tasks may be lost, set unsafeAllowEviction: true (CLI: --unsafe-allow-eviction; environment: ERRAND_UNSAFE_ALLOW_EVICTION=1)';

export interface EvictionPolicyReading {
  /** The policy, or null when neither CONFIG GET nor INFO would tell. */
  policy: string | null;
  /** Which node answered (host:port), for messages. */
  node: string;
}

function nodeName(client: RedisClient): string {
  const options = (client as { options?: { host?: string; port?: number } }).options;
  return `${options?.host ?? '?'}:${options?.port ?? '?'}`;
}

/** A reply error (CONFIG refused, unknown command, NOPERM); connection failures are rethrown. */
function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

/** Reads one node's policy: CONFIG GET, else INFO memory, else null. */
async function readNode(client: RedisClient): Promise<EvictionPolicyReading> {
  const node = nodeName(client);
  try {
    const reply = (await client.call('CONFIG', 'GET', 'maxmemory-policy')) as string[] | Record<string, string>;
    const policy = Array.isArray(reply) ? reply[1] : reply['maxmemory-policy'];
    if (policy) return { policy: String(policy), node };
  } catch (error) {
    if (!isReplyError(error)) throw error;
  }
  try {
    const info = String(await client.call('INFO', 'memory'));
    const match = /^maxmemory_policy:(\S+)/m.exec(info);
    return { policy: match ? match[1]! : null, node };
  } catch (error) {
    if (!isReplyError(error)) throw error;
    return { policy: null, node };
  }
}

/** The policy of every node that holds data (a Cluster's masters and replicas: a replica may be promoted). */
export async function readEvictionPolicies(client: RedisClient): Promise<EvictionPolicyReading[]> {
  if (client instanceof Cluster) return Promise.all(client.nodes('all').map((node) => readNode(node)));
  return [await readNode(client)];
}

/** The refusal for a reading, or undefined when it is safe. */
export function evictionProblem({ policy, node }: EvictionPolicyReading): UnsafeEvictionPolicyError | undefined {
  if (policy !== null && SAFE_EVICTION_POLICIES.includes(policy)) return undefined;
  if (policy === null) {
    return new UnsafeEvictionPolicyError(
      null,
      `cannot read the maxmemory-policy of the Redis at ${node} (CONFIG GET and INFO are both refused: renamed, or forbidden by an ACL), ` +
        'so Errand cannot tell whether a full Redis would evict queue keys and lose tasks: allow CONFIG GET or INFO for this user, ' +
        `or make sure the policy is noeviction and ${EVICTION_OVERRIDE_HINT.replace(/^or, /, '')}`,
    );
  }
  return new UnsafeEvictionPolicyError(
    policy,
    `the Redis at ${node} runs with maxmemory-policy ${policy}, which evicts keys when memory runs short: queued tasks would vanish without an error. ` +
      `Set it to noeviction (redis-cli CONFIG SET maxmemory-policy noeviction, and in redis.conf), ${EVICTION_OVERRIDE_HINT}`,
  );
}

/**
 * Resolves when every node's policy is safe; rejects with UnsafeEvictionPolicyError when
 * one is not (or cannot be read), and with the connection's error when Redis does not answer.
 */
export async function checkEvictionPolicy(client: RedisClient, { allow = false }: { allow?: boolean } = {}): Promise<void> {
  if (allow) return;
  for (const reading of await readEvictionPolicies(client)) {
    const problem = evictionProblem(reading);
    if (problem) throw problem;
  }
}

export interface EvictionGuardOptions {
  /** The operator accepted the risk: nothing is read, everything is allowed. */
  allow?: boolean;
  /** Called with each refusal (at start or after a reconnect). */
  onUnsafe?(error: UnsafeEvictionPolicyError): void;
}

/**
 * Checks a client's Redis when it connects and after every reconnect (a failover may land
 * on a server configured differently), and remembers the verdict. `assertSafe()` waits for
 * a check in flight and throws the refusal while one stands.
 */
export class EvictionGuard {
  private refusal: UnsafeEvictionPolicyError | undefined;
  private checking: Promise<void> | undefined;
  private readonly onReady = () => void this.check();
  private readonly firstVerdict: Promise<void>;
  private settleFirst: ((error?: UnsafeEvictionPolicyError) => void) | undefined;

  constructor(
    private readonly client: RedisClient,
    private readonly options: EvictionGuardOptions = {},
  ) {
    this.firstVerdict = new Promise<void>((resolve, reject) => {
      this.settleFirst = (error) => (error ? reject(error) : resolve());
    });
    this.firstVerdict.catch(() => {}); // handed to whoever awaits ready()
    if (options.allow) {
      this.settleFirst?.();
      return;
    }
    client.on('ready', this.onReady);
    if (client.status === 'ready') void this.check();
  }

  /** Resolves once a check found the policy safe; rejects if the first check refused it. */
  ready(): Promise<void> {
    return this.firstVerdict;
  }

  /** The standing refusal, if the last check found the policy unsafe. */
  get problem(): UnsafeEvictionPolicyError | undefined {
    return this.refusal;
  }

  /** Resolves unless the last check refused this Redis (waits for a check in flight). */
  async assertSafe(): Promise<void> {
    if (this.checking) await this.checking;
    if (this.refusal) throw this.refusal;
  }

  /**
   * assertSafe without a promise when the verdict is known (for a check on every request):
   * undefined when safe, throws the standing refusal, a promise only while a check runs.
   */
  checkSafe(): Promise<void> | undefined {
    if (this.checking) return this.assertSafe();
    if (this.refusal) throw this.refusal;
    return undefined;
  }

  /** Stops watching reconnects. */
  dispose(): void {
    this.client.off('ready', this.onReady);
  }

  private check(): Promise<void> {
    const run = checkEvictionPolicy(this.client).then(
      () => {
        this.refusal = undefined;
        this.settleFirst?.();
        this.settleFirst = undefined;
      },
      (error: unknown) => {
        if (!(error instanceof UnsafeEvictionPolicyError)) return; // connection lost: the next 'ready' checks again
        this.refusal = error;
        this.settleFirst?.(error);
        this.settleFirst = undefined;
        this.options.onUnsafe?.(error);
      },
    );
    const checking = run.finally(() => {
      if (this.checking === checking) this.checking = undefined;
    });
    this.checking = checking;
    return checking;
  }
}
