/**
 * Stream ids (`<ms>-<seq>`, ms on the Redis server's clock) and the start points of
 * subscriber groups. Redis positions a group after a "last delivered" id, so a start that
 * includes a given message is expressed as the id just before it.
 */
import { ValidationError } from '../errors.js';
import type { TopicStart } from './options.js';

const MAX_SEQ = 18_446_744_073_709_551_615n; // 2^64 - 1, the largest sequence number

/** The largest id that sorts before `<ms>-<seq>`, or '0' when there is none. */
function idBefore(ms: bigint, seq: bigint): string {
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  if (ms > 0n) return `${ms - 1n}-${MAX_SEQ}`;
  return '0';
}

/** The group position that makes its next read start at `from` (see TopicStart). */
export function startPosition(from: TopicStart): string {
  if (from === 'new') return '$';
  if (from === 'earliest') return '0';
  if (from instanceof Date) {
    const ms = from.getTime();
    if (!Number.isFinite(ms) || ms < 0) throw new ValidationError(`invalid start time ${String(from)}: use a valid Date`);
    return idBefore(BigInt(ms), 0n);
  }
  const [ms = '0', seq = '0'] = from.split('-');
  if (BigInt(seq) > MAX_SEQ) throw new ValidationError(`invalid message id "${from}": its sequence part is too large`);
  return idBefore(BigInt(ms), BigInt(seq));
}

/** When a message was published (epoch ms), read from its id. */
export function publishedAt(id: string): number {
  return Number(id.split('-')[0]);
}
