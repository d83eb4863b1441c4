/**
 * Reads Errand's connection URLs into ioredis options, and the ride-through budget.
 *
 * - `redis://[user:password@]host:port[/db]` and `rediss://` (TLS): one Redis; ioredis
 *   reads these itself.
 * - `redis+cluster://[user:password@]host:port,host:port,...`: a Redis Cluster, from those
 *   seed nodes.
 * - `redis+sentinel://[user:password@]host:port,host:port,.../<master name>[/<db>]`: the
 *   master that Sentinels at those addresses name, followed through failovers. The
 *   password is the master's; `?sentinelPassword=` gives the Sentinels' own.
 *
 * Every form takes `?failoverMs=<ms>`: how long a call rides through a failover or a slot
 * migration (retrying, following redirections) before it fails with RedisUnavailableError.
 */
import type { ClusterNode, SentinelAddress } from 'ioredis';
import { ValidationError } from '../errors.js';

export const CLUSTER_SCHEME = 'redis+cluster://';
export const SENTINEL_SCHEME = 'redis+sentinel://';

/** Default ride-through budget: enough for a 5 s failover, with room to spare. */
export const DEFAULT_FAILOVER_MS = 10_000;
const MAX_FAILOVER_MS = 10 * 60_000;

export type ParsedUrl =
  | { kind: 'single'; url: string; failoverMs: number }
  | { kind: 'cluster'; nodes: ClusterNode[]; username?: string; password?: string; failoverMs: number }
  | {
      kind: 'sentinel';
      sentinels: SentinelAddress[];
      name: string;
      db?: number;
      username?: string;
      password?: string;
      sentinelPassword?: string;
      failoverMs: number;
    };

/** Reads `failoverMs` (ms, 0 to 10 minutes) from a URL's query or an options object. */
export function parseFailoverMs(value: unknown): number {
  if (value === undefined || value === null || value === '') return DEFAULT_FAILOVER_MS;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_FAILOVER_MS) {
    throw new ValidationError(`invalid failoverMs ${JSON.stringify(value)}: use a whole number of ms from 0 to ${MAX_FAILOVER_MS}`);
  }
  return ms;
}

/** `host:port` pairs, comma separated; a missing host is 127.0.0.1, a missing port `defaultPort`. */
function addresses(list: string, defaultPort: number): { host: string; port: number }[] {
  return list.split(',').map((hostPort) => {
    const at = hostPort.lastIndexOf(':');
    const host = at < 0 ? hostPort : hostPort.slice(0, at);
    const port = at < 0 ? defaultPort : Number(hostPort.slice(at + 1));
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new ValidationError(`invalid address "${hostPort}" in the Redis URL: use host:port`);
    }
    return { host: host.replace(/^\[|\]$/g, '') || '127.0.0.1', port };
  });
}

/** Splits `scheme://[credentials@]rest?query` without URL(), which refuses host lists. */
function split(url: string, scheme: string): { credentials: string | undefined; rest: string; query: URLSearchParams } {
  const body = url.slice(scheme.length);
  const q = body.indexOf('?');
  const main = q < 0 ? body : body.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : body.slice(q + 1));
  // The last '@' ends the credentials: a password may contain '@'.
  const at = main.lastIndexOf('@');
  return { credentials: at < 0 ? undefined : main.slice(0, at), rest: at < 0 ? main : main.slice(at + 1), query };
}

function credentialsOf(credentials: string | undefined): { username?: string; password?: string } {
  if (credentials === undefined) return {};
  const colon = credentials.indexOf(':');
  const username = decodeURIComponent(colon < 0 ? '' : credentials.slice(0, colon));
  const password = decodeURIComponent(colon < 0 ? credentials : credentials.slice(colon + 1));
  return { ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

export function parseConnectionUrl(url: string): ParsedUrl {
  if (url.startsWith(CLUSTER_SCHEME)) {
    const { credentials, rest, query } = split(url, CLUSTER_SCHEME);
    return { kind: 'cluster', nodes: addresses(rest.replace(/\/$/, ''), 6379), ...credentialsOf(credentials), failoverMs: parseFailoverMs(query.get('failoverMs') ?? undefined) };
  }
  if (url.startsWith(SENTINEL_SCHEME)) {
    const { credentials, rest, query } = split(url, SENTINEL_SCHEME);
    const [hosts = '', name, db] = rest.split('/');
    if (!name) throw new ValidationError('a redis+sentinel:// URL names the master after the addresses: redis+sentinel://host:26379/mymaster');
    const sentinelPassword = query.get('sentinelPassword') ?? undefined;
    const parsed: ParsedUrl = {
      kind: 'sentinel',
      sentinels: addresses(hosts, 26379),
      name: decodeURIComponent(name),
      ...credentialsOf(credentials),
      failoverMs: parseFailoverMs(query.get('failoverMs') ?? undefined),
    };
    if (sentinelPassword !== undefined) parsed.sentinelPassword = sentinelPassword;
    if (db !== undefined && db !== '') {
      const n = Number(db);
      if (!Number.isInteger(n) || n < 0) throw new ValidationError(`invalid database "${db}" in the Redis URL: use a number`);
      parsed.db = n;
    }
    return parsed;
  }
  // One Redis: ioredis reads the URL (it would pass failoverMs on as an option: take it out).
  const q = url.indexOf('?');
  if (q < 0) return { kind: 'single', url, failoverMs: DEFAULT_FAILOVER_MS };
  const query = new URLSearchParams(url.slice(q + 1));
  const failoverMs = parseFailoverMs(query.get('failoverMs') ?? undefined);
  query.delete('failoverMs');
  const left = query.toString();
  return { kind: 'single', url: url.slice(0, q) + (left ? `?${left}` : ''), failoverMs };
}
