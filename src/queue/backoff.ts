/**
 * How long a failed attempt waits before the next one. Computed in the worker (which knows
 * the task's policy and attempt) and handed to the fail script as a delay.
 */
import { DEFAULT_BACKOFF, type BackoffOptions } from '../config.js';

/**
 * The wait before the attempt after `attempt` (1 = after the first run). Exponential
 * doubles from `delayMs`; both kinds are capped by `maxDelayMs` (default 1 h); `jitter`
 * takes a random share of up to that fraction off, spreading retries of a burst.
 */
export function backoffDelayMs(attempt: number, backoff: BackoffOptions = DEFAULT_BACKOFF, random = Math.random): number {
  const maxDelayMs = backoff.maxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs;
  const base = backoff.type === 'fixed' ? backoff.delayMs : backoff.delayMs * 2 ** Math.min(attempt - 1, 40);
  const capped = Math.min(base, maxDelayMs);
  const jitter = backoff.jitter ?? 0;
  return Math.round(capped * (1 - jitter * random()));
}
