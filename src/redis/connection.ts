/**
 * Turns the `connection` option into ioredis clients.
 *
 * - A URL (connection-url.ts: `redis://`, `rediss://`, `redis+cluster://`,
 *   `redis+sentinel://`) makes a client Errand owns and closes.
 * - ioredis options make a client (a Cluster when they hold `clusterNodes`, a Sentinel
 *   client when they hold `sentinels`); `failoverMs` among them sets the ride-through budget.
 * - An ioredis client or Cluster is used as is and left open on close; blocking and
 *   subscriber connections are duplicated from it, since they cannot share a socket.
 *
 * Ride-through: where Redis can fail over (a Cluster, Sentinel) or move slots (a Cluster),
 * a call retries and follows redirections for `failoverMs` (default 10 s) before it fails
 * with RedisUnavailableError: ioredis's budgets (redirections, reconnect attempts) are sized
 * from that time. Workers' clients wait through outages (`maxRetriesPerRequest: null`), so a
 * Redis restart pauses them instead of failing their commands. Request-serving faces (the
 * gateway) ask for `failFastMs` on a single Redis: a request gets its 503 at once when
 * Redis is down, not after a wait.
 */
import { Cluster, Redis, ReplyError, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';
import { DEFAULT_REDIS_URL, type ConnectionOption } from '../config.js';
import { ErrandError, RedisUnavailableError } from '../errors.js';
import { DEFAULT_FAILOVER_MS, parseConnectionUrl, parseFailoverMs } from './connection-url.js';
import { typedReplyError } from './reply-errors.js';
import type { RedisClient } from './scripts.js';

export interface OwnedClient {
  client: RedisClient;
  /** Whether Errand created it (and so closes it). */
  owned: boolean;
}

export interface ClientRole {
  /** Keep commands queued through reconnects, without a retry limit (workers, blocking). */
  patient?: boolean;
  /**
   * Fail commands while disconnected (at the next failed reconnect, retried at least every
   * 500 ms) and any command unanswered after this many ms. Where Redis fails over
   * (Cluster, Sentinel), calls still ride through the failover budget.
   */
  failFastMs?: number;
  /**
   * A connection that blocks (a worker's BZPOPMIN with a claim pipelined behind it, a
   * bridge's BLMOVE, a topic's XREADGROUP BLOCK): never a command timeout, even one the
   * user's options set, or the client would give up on a command that Redis still runs
   * later (a claim leasing tasks to no one, messages delivered to no one).
   */
  blocking?: boolean;
}

/** Wait before reconnect attempt `times` (1, 2, ...): 100 ms more each time, at most 1 s. */
const RECONNECT_STEP_MS = 100;
const RECONNECT_MAX_MS = 1_000;
function reconnectDelay(times: number): number {
  return Math.min(times * RECONNECT_STEP_MS, RECONNECT_MAX_MS);
}

/** Reconnect attempts whose waits add up to at least `budgetMs` (ioredis's maxRetriesPerRequest). */
export function retriesFor(budgetMs: number): number {
  let waited = 0;
  let times = 0;
  while (waited < budgetMs) waited += reconnectDelay(++times);
  return Math.max(times, 1);
}

/** How a client of one Redis (or of a Sentinel-managed master) retries, for a role. */
function singleOptions(role: ClientRole, failoverMs: number, failsOver: boolean): RedisOptions {
  if (role.patient) {
    const options: RedisOptions = { maxRetriesPerRequest: null, retryStrategy: reconnectDelay };
    if (role.blocking) options.commandTimeout = undefined;
    return options;
  }
  if (role.failFastMs !== undefined && !failsOver) {
    return { commandTimeout: role.failFastMs, maxRetriesPerRequest: 0, retryStrategy: (times) => Math.min(times * 50, 500) };
  }
  const options: RedisOptions = { maxRetriesPerRequest: retriesFor(failoverMs), retryStrategy: reconnectDelay };
  // A command queued through a failover must not time out before the budget is spent.
  if (role.failFastMs !== undefined) options.commandTimeout = role.failFastMs + failoverMs;
  if (role.blocking) options.commandTimeout = undefined;
  return options;
}

/** A Cluster client's budgets: every retry of a redirected or refused call waits 100 ms. */
function clusterOptions(role: ClientRole, failoverMs: number, redisOptions: RedisOptions): ClusterOptions {
  const node: RedisOptions = { ...redisOptions };
  if (role.failFastMs !== undefined && !role.patient) node.commandTimeout = role.failFastMs;
  if (role.blocking) node.commandTimeout = undefined;
  const delayMs = 100;
  return {
    redisOptions: node,
    retryDelayOnFailover: delayMs,
    retryDelayOnClusterDown: delayMs,
    retryDelayOnTryAgain: delayMs,
    // A call during a migration goes ASK, TRYAGAIN, then to another node and back (MOVED):
    // about three redirections per wait.
    maxRedirections: Math.ceil(failoverMs / delayMs) * 3 + 16,
  };
}

/** Resolves the default: `REDIS_URL`, else the local Redis. */
export function defaultConnection(): string {
  return process.env.REDIS_URL || DEFAULT_REDIS_URL;
}

/** The ride-through budget each client Errand made was given (others: the default). */
const budgets = new WeakMap<RedisClient, number>();

/** How long calls on `client` ride through a failover or migration (for retries Errand makes itself). */
export function failoverBudgetOf(client: RedisClient): number {
  return budgets.get(client) ?? DEFAULT_FAILOVER_MS;
}

function owned(client: RedisClient, failoverMs: number): OwnedClient {
  budgets.set(client, failoverMs);
  return { client, owned: true };
}

export function openClient(option: ConnectionOption | undefined, role: ClientRole = {}): OwnedClient {
  const connection = option ?? defaultConnection();
  if (typeof connection === 'string') {
    const parsed = parseConnectionUrl(connection);
    switch (parsed.kind) {
      case 'cluster': {
        const credentials: RedisOptions = {};
        if (parsed.username) credentials.username = parsed.username;
        if (parsed.password) credentials.password = parsed.password;
        return owned(new Cluster(parsed.nodes, clusterOptions(role, parsed.failoverMs, credentials)), parsed.failoverMs);
      }
      case 'sentinel': {
        const { kind: _kind, failoverMs, ...sentinel } = parsed;
        return owned(new Redis({ ...sentinel, failoverDetector: true, ...singleOptions(role, failoverMs, true) }), failoverMs);
      }
      case 'single':
        return owned(new Redis(parsed.url, singleOptions(role, parsed.failoverMs, false)), parsed.failoverMs);
    }
  }
  if (connection instanceof Redis || connection instanceof Cluster) {
    return { client: connection, owned: false };
  }
  const { clusterNodes, failoverMs: budget, ...options } = connection as { clusterNodes?: ClusterNode[]; failoverMs?: unknown } & RedisOptions;
  const failoverMs = parseFailoverMs(budget);
  if (clusterNodes) {
    return owned(new Cluster(clusterNodes, clusterOptions(role, failoverMs, options)), failoverMs);
  }
  const failsOver = Array.isArray(options.sentinels);
  return owned(new Redis({ ...options, ...(failsOver ? { failoverDetector: true } : {}), ...singleOptions(role, failoverMs, failsOver) }), failoverMs);
}

/** A dedicated connection (blocking commands, subscriptions), always owned. */
export function openDedicatedClient(option: ConnectionOption | undefined, role: ClientRole = {}): RedisClient {
  const connection = option ?? defaultConnection();
  if (connection instanceof Redis) return connection.duplicate(singleOptions(role, DEFAULT_FAILOVER_MS, Array.isArray(connection.options.sentinels)));
  if (connection instanceof Cluster) {
    const { redisOptions, ...budgets } = clusterOptions(role, DEFAULT_FAILOVER_MS, connection.options.redisOptions ?? {});
    return connection.duplicate(undefined, { ...budgets, redisOptions });
  }
  return openClient(connection, role).client;
}

/** Closes a client if Errand owns it: QUIT when connected, else just disconnect. */
export async function closeClient({ client, owned }: OwnedClient): Promise<void> {
  if (!owned) return;
  await quit(client);
}

/**
 * How long a close waits for Redis to answer QUIT: a stalled server (or a Cluster node that
 * is down, whose connection waits to reconnect) never answers, and a close must end.
 */
export const QUIT_TIMEOUT_MS = 1_000;

/**
 * Awaits `work` for at most `ms`: true when it succeeded in time, false when it failed or
 * is still going (it is left to finish or fail on its own, its failure unheard).
 */
export async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = work.then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([outcome, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A command sent while closing (QUIT, UNSUBSCRIBE), awaited at most QUIT_TIMEOUT_MS (see settledWithin). */
export function answeredWhileClosing(command: Promise<unknown>): Promise<boolean> {
  return settledWithin(command, QUIT_TIMEOUT_MS);
}

/** Closes a client politely (QUIT), or at once when Redis does not answer within QUIT_TIMEOUT_MS. */
export async function quit(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  // Not answered (a stalled server), or the connection dropped while quitting: close it.
  if (!(await answeredWhileClosing(client.quit()))) client.disconnect();
}

/**
 * Awaits a command, turning connection failures into RedisUnavailableError and the replies
 * reply-errors.ts knows (refused credentials, out of memory) into their typed errors; other
 * replies of Redis (script and command errors) pass unchanged.
 */
export async function orUnavailable<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    const typed = typedReplyError(error);
    if (typed) throw typed;
    if (error instanceof ReplyError || error instanceof ErrandError || !(error instanceof Error)) throw error;
    throw new RedisUnavailableError(error.message, { cause: error });
  }
}

/**
 * Resolves once a client finished its connection handshake. A (P)SUBSCRIBE sent before
 * that can interleave with ioredis's own handshake commands, which Redis then refuses in
 * subscriber mode (ioredis issue 2037): subscriber connections wait for this first.
 */
export function whenReady(client: RedisClient): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = () => {
      client.off('end', onEnd);
      resolve();
    };
    const onEnd = () => {
      client.off('ready', onReady);
      reject(new Error('Connection is closed.'));
    };
    client.once('ready', onReady);
    client.once('end', onEnd);
  });
}
