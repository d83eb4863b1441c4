/**
 * Redis connections for one-shot CLI commands.
 *
 * Responsible for: checking the `--redis` / `REDIS_URL` value, opening one client that
 * gives up quickly when nothing answers (a terminal command should say "cannot reach
 * Redis" within a second, not hang through reconnects), checking before the first command
 * that Redis answers and will not evict queue keys (eviction-policy.ts), remembering why
 * the connection failed, and turning that into one line that names the fix (never showing
 * a password). Workers do not use this client: they wait through outages with their own
 * patient connections.
 */
import { Redis, type Cluster } from 'ioredis';
import { DEFAULT_REDIS_URL } from '../config.js';
import { RedisUnavailableError, ValidationError } from '../index.js';
import { openClient, quit } from '../redis/connection.js';
import { parseConnectionUrl } from '../redis/connection-url.js';
import { checkEvictionPolicy } from '../redis/eviction-policy.js';
import { redactUrl } from '../redis/redact.js';
import { typedReplyError } from '../redis/reply-errors.js';

export { redactUrl };

const URL_RULE =
  'use redis://host:port[/db], rediss://... for TLS, redis+cluster://host:port,host:port, or redis+sentinel://host:port,host:port/<master name>';

/** Fail-fast settings: one reconnect attempt, one retry per command, 2 s to connect. */
const FAIL_FAST = {
  connectTimeout: 2_000,
  maxRetriesPerRequest: 1,
  retryStrategy: (times: number) => (times > 1 ? null : 200),
};

/** The URL from `--redis`, else `REDIS_URL`, else the local default; checked. */
export function resolveRedisUrl(flag: string | undefined): string {
  const url = flag || process.env.REDIS_URL || DEFAULT_REDIS_URL;
  const where = flag ? '--redis' : process.env.REDIS_URL ? 'REDIS_URL' : 'default';
  if (!/^(rediss?|redis\+cluster|redis\+sentinel):\/\/./.test(url)) {
    throw new ValidationError(`invalid Redis URL ${JSON.stringify(redactUrl(url))} (from ${where}): ${URL_RULE}`);
  }
  return url;
}

/** A fail-fast client for one command, and the last connection error it saw. */
export class CliConnection {
  readonly client: Redis | Cluster;
  private lastError: Error | undefined;

  constructor(readonly url: string) {
    // One Redis: fail fast. A Cluster or a Sentinel-managed Redis may be failing over: ride
    // through its failover budget, as every client does.
    const parsed = parseConnectionUrl(url);
    this.client = parsed.kind === 'single' ? new Redis(parsed.url, FAIL_FAST) : openClient(url, { failFastMs: FAIL_FAST.connectTimeout }).client;
    // Commands report failures to their callers; the event only tells us why.
    this.client.on('error', (error: Error) => (this.lastError = error));
  }

  /**
   * Resolves once Redis answers and its eviction policy is safe (unless `allowEviction`);
   * rejects with RedisUnavailableError, RedisAuthFailedError or UnsafeEvictionPolicyError.
   */
  async check({ allowEviction = false }: { allowEviction?: boolean } = {}): Promise<void> {
    try {
      await this.client.ping();
    } catch (error) {
      throw typedReplyError(error) ?? new RedisUnavailableError((error as Error).message);
    }
    await checkEvictionPolicy(this.client, { allow: allowEviction });
  }

  /**
   * The one line for an unreachable Redis, naming the address, the reason and the fix;
   * undefined when the connection never failed (the error is about something else).
   */
  describeFailure(): string | undefined {
    if (!this.lastError || typedReplyError(this.lastError)) return undefined; // refused credentials say so themselves
    return `cannot reach Redis at ${redactUrl(this.url)} (${this.lastError.message}): start redis-server there, or point --redis or REDIS_URL at a running one`;
  }

  /** QUIT, or at once when Redis does not answer (redis/connection.ts quit). */
  async close(): Promise<void> {
    await quit(this.client);
  }
}
