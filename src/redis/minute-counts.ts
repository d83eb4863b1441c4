/**
 * Reads the per-minute counters that scripts keep in `stats:<hour>` hashes (fields named
 * `<epoch minute>` or `<epoch minute>:<kind>`), for queues' and topics' throughput charts.
 */
import { ValidationError } from '../errors.js';
import type { RedisClient } from './scripts.js';

/** Checks a `minutes` argument: a whole number from 1 to 1,440 (a day). */
export function validateMinutes(minutes: unknown): number {
  if (!Number.isInteger(minutes) || (minutes as number) < 1 || (minutes as number) > 1440) {
    throw new ValidationError(`minutes must be a whole number from 1 to 1440, got ${JSON.stringify(minutes)}`);
  }
  return minutes as number;
}

/**
 * The counters of the last `minutes` minutes (Redis clock), oldest first: for each minute,
 * `read(minute, counts)` builds the point from a map of field → count.
 */
export async function readMinuteCounts<T>(
  client: RedisClient,
  statsKey: (hour: number) => string,
  minutes: number,
  read: (minute: number, counts: Map<string, number>) => T,
): Promise<T[]> {
  const [seconds, micros] = await client.time();
  const nowMinute = Math.floor((Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)) / 60_000);
  const first = nowMinute - minutes + 1;
  const pipeline = client.pipeline();
  for (let hour = Math.floor(first / 60); hour <= Math.floor(nowMinute / 60); hour++) pipeline.hgetall(statsKey(hour));
  const counts = new Map<string, number>();
  for (const [error, hash] of (await pipeline.exec()) ?? []) {
    if (error) throw error;
    for (const [field, n] of Object.entries((hash ?? {}) as Record<string, string>)) counts.set(field, Number(n));
  }
  return Array.from({ length: minutes }, (_, i) => read(first + i, counts));
}
