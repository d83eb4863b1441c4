/**
 * Keys of the HTTP gateway's shared auth state, kept apart from keys.ts only until the two
 * are merged (keys.ts is being reworked for Redis Cluster): the dashboard's session
 * generations and the failed-authentication counters. `docs/redis-layout.md` § Gateway
 * keys lists the same roles; a test keeps them in step. Neither ever holds a token.
 */

/** Gateway key roles under a prefix, with the Redis type each holds. */
export const GATEWAY_KEY_ROLES = Object.freeze({
  'gateway:sessions': 'hash',
  'gateway:auth-failures:<address>': 'string',
} as const);

/**
 * Session generation per token name: a dashboard session carries the generation it was
 * issued in, and is accepted only while it is the current one (logout increments it).
 */
export function sessionGenerationsKey(prefix: string): string {
  return `${prefix}:gateway:sessions`;
}

/** What the failed-authentication counters' keys start with; the client address follows. */
export function authFailuresKeyPrefix(prefix: string): string {
  return `${prefix}:gateway:auth-failures:`;
}
