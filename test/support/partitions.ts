/**
 * Partition helpers for tests: a group name whose home is the partition a test means to
 * fill (a group routes by the hash of `group:<name>`, src/queue/partitions.ts).
 */
import { routingHash } from '../../src/queue/partitions.js';

/** The first group name `<tag><i>` that routes to partition `n` of `partitions`. */
export function groupFor(n: number, partitions: number, tag = 'g'): string {
  if (!Number.isInteger(n) || n < 0 || n >= partitions) throw new RangeError(`no partition ${n} of ${partitions}`);
  for (let i = 0; ; i++) if (routingHash(`group:${tag}${i}`) % partitions === n) return `${tag}${i}`;
}
