/**
 * Turns the `connection` option into ioredis clients.
 *
 * - A URL (`redis://`, `rediss://`) makes a client Errand owns and closes.
 * - `redis+cluster://host:port,host:port` makes a Cluster client over those seed nodes.
 * - ioredis options make a client (a Cluster when they hold `clusterNodes`).
 * - An ioredis client or Cluster is used as is and left open on close; blocking and
 *   subscriber connections are duplicated from it, since they cannot share a socket.
 *
 * Workers' clients wait through outages (`maxRetriesPerRequest: null`), so a Redis restart
 * pauses them instead of failing their commands. Request-serving faces (the gateway) ask
 * for the opposite, `failFastMs`: a request must get its 503 at once, not hang.
 */
import { Cluster, Redis, ReplyError, type ClusterNode, type RedisOptions } from 'ioredis';
import { DEFAULT_REDIS_URL, type ConnectionOption } from '../config.js';
import { ErrandError, RedisUnavailableError } from '../errors.js';
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
   * 500 ms) and any command unanswered after this many ms.
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

const CLUSTER_SCHEME = 'redis+cluster://';

function patientOptions(role: ClientRole): RedisOptions {
  if (role.failFastMs !== undefined && !role.patient) {
    return { commandTimeout: role.failFastMs, maxRetriesPerRequest: 0, retryStrategy: (times) => Math.min(times * 50, 500) };
  }
  const options: RedisOptions = role.patient ? { maxRetriesPerRequest: null } : {};
  if (role.blocking) options.commandTimeout = undefined;
  return options;
}

function clusterFromUrl(url: string, role: ClientRole): Cluster {
  const nodes: ClusterNode[] = url
    .slice(CLUSTER_SCHEME.length)
    .split(',')
    .map((hostPort) => {
      const [host, port] = hostPort.split(':');
      return { host: host || '127.0.0.1', port: Number(port || 6379) };
    });
  return new Cluster(nodes, { redisOptions: patientOptions(role) });
}

/** Resolves the default: `REDIS_URL`, else the local Redis. */
export function defaultConnection(): string {
  return process.env.REDIS_URL || DEFAULT_REDIS_URL;
}

export function openClient(option: ConnectionOption | undefined, role: ClientRole = {}): OwnedClient {
  const connection = option ?? defaultConnection();
  if (typeof connection === 'string') {
    if (connection.startsWith(CLUSTER_SCHEME)) return { client: clusterFromUrl(connection, role), owned: true };
    return { client: new Redis(connection, patientOptions(role)), owned: true };
  }
  if (connection instanceof Redis || connection instanceof Cluster) {
    return { client: connection, owned: false };
  }
  const { clusterNodes, ...options } = connection as { clusterNodes?: ClusterNode[] } & RedisOptions;
  if (clusterNodes) {
    return { client: new Cluster(clusterNodes, { redisOptions: { ...options, ...patientOptions(role) } }), owned: true };
  }
  return { client: new Redis({ ...options, ...patientOptions(role) }), owned: true };
}

/** A dedicated connection (blocking commands, subscriptions), always owned. */
export function openDedicatedClient(option: ConnectionOption | undefined, role: ClientRole = {}): RedisClient {
  const connection = option ?? defaultConnection();
  if (connection instanceof Redis) return connection.duplicate(patientOptions(role));
  if (connection instanceof Cluster) return connection.duplicate(undefined, { redisOptions: patientOptions(role) });
  return openClient(connection, role).client;
}

/** Closes a client if Errand owns it: QUIT when connected, else just disconnect. */
export async function closeClient({ client, owned }: OwnedClient): Promise<void> {
  if (!owned) return;
  await quit(client);
}

export async function quit(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    // The connection dropped while quitting: nothing is left to close.
    client.disconnect();
  }
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
