/**
 * Redis's own error replies that callers must be able to tell apart, turned into typed
 * errors: refused credentials (WRONGPASS, NOAUTH) and a full Redis (OOM under
 * `noeviction`). These are Redis's documented reply prefixes, not free text: every other
 * reply passes unchanged.
 *
 * The typed errors never keep the reply as their `cause`: ioredis attaches the failed
 * command to it, and a failed AUTH's arguments are the password.
 */
import { RedisAuthFailedError, RedisOutOfMemoryError } from '../errors.js';

/** Reply prefixes (and Redis 5's wording) of a refused or missing password. */
const AUTH_FAILED = /^(WRONGPASS|NOAUTH)\b|^ERR invalid (password|username-password pair)/;
/** OOM replies; from inside a script Redis prefixes them with the script's own error text. */
const OUT_OF_MEMORY = /(^|[\s:-])OOM command not allowed\b/;

/** The typed error for a reply Errand knows, or undefined. */
export function typedReplyError(error: unknown): RedisAuthFailedError | RedisOutOfMemoryError | undefined {
  if (!(error instanceof Error) || error.name !== 'ReplyError') return undefined;
  const message = error.message;
  if (AUTH_FAILED.test(message)) {
    // The first words name the reason; nothing after them can hold a credential, but keep it short.
    return new RedisAuthFailedError(message.split(/\s+/).slice(0, 6).join(' ').replace(/[.:]$/, ''));
  }
  if (OUT_OF_MEMORY.test(message)) return new RedisOutOfMemoryError();
  return undefined;
}
