/**
 * The gateway's auth state that must hold across gateways, kept in Redis (tokens never
 * are: they live in each gateway's memory only).
 *
 * Responsible for: the dashboard's session generation per token name (logging out moves it
 * on, which ends every session issued before, on every gateway), and where the
 * failed-authentication limiter (@fastify/rate-limit's Redis store) keeps its counters.
 */
import { orUnavailable } from '../redis/connection.js';
import { authFailuresKeyPrefix, sessionGenerationsKey } from '../redis/keys.js';
import type { RedisClient } from '../redis/scripts.js';

export class AuthState {
  constructor(
    private readonly client: () => RedisClient,
    private readonly prefix: string,
  ) {}

  /** The current session generation of a token name (0 before any logout). */
  async sessionGeneration(name: string): Promise<number> {
    const value = await orUnavailable(this.client().hget(sessionGenerationsKey(this.prefix), name));
    return Number(value ?? 0);
  }

  /** Ends every session issued so far for a token name; resolves with the new generation. */
  async revokeSessions(name: string): Promise<number> {
    return Number(await orUnavailable(this.client().hincrby(sessionGenerationsKey(this.prefix), name, 1)));
  }

  /** The store options of the failed-authentication limiter: this connection, and its key prefix. */
  limiterStore(): { redis: RedisClient; nameSpace: string } {
    return { redis: this.client(), nameSpace: authFailuresKeyPrefix(this.prefix) };
  }
}
