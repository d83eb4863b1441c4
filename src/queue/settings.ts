/**
 * Queue-wide settings: what they are, their defaults, how a change is checked, and how they
 * are stored in the queue's `settings` hash, where the scripts that enforce them read them
 * at every call (so a change takes effect on every worker at its next claim, with no
 * restart, and no process holds a copy that could disagree).
 *
 * A change is a patch: the fields given replace the stored ones, `null` removes a limit,
 * fields left out stay as they are. Every change bumps `version`.
 */
import { z } from 'zod';
import { DEFAULT_RETENTION, formatIssues } from '../config.js';
import { ValidationError } from '../errors.js';
import { SETTINGS_FIELDS as S } from '../redis/keys.js';
import { MAX_PARTITIONS } from './partitions.js';

const MAX_WINDOW_MS = 24 * 3_600_000;

const rateLimitSchema = z
  .object({
    /** Tasks started at most in any window of `perMs`, across all workers. */
    max: z.number().int().min(1).max(1_000_000),
    /** The window, in ms (the Redis server's clock). */
    perMs: z.number().int().min(1).max(MAX_WINDOW_MS),
  })
  .strict();

const keepSchema = z
  .object({
    count: z.number().int().min(0).max(10_000_000),
    maxAgeMs: z.number().int().min(0).max(2 ** 40),
  })
  .partial()
  .strict();

/** Limits each group has unless configured otherwise for that group. */
export const groupLimitsSchema = z
  .object({
    /** Tasks of one group active at once, across all workers; null: no limit. */
    concurrency: z.number().int().min(1).max(1_000_000).nullable(),
    /** Tasks of one group started per window; null: no limit. */
    rateLimit: rateLimitSchema.nullable(),
  })
  .partial()
  .strict();

export const settingsPatchSchema = z
  .object({
    /** Enqueues are refused (QueueFullError, HTTP 429) while this many tasks wait (waiting + delayed); null: no limit. */
    maxWaiting: z.number().int().min(1).max(1_000_000_000).nullable(),
    /** How long finished tasks stay readable. */
    retention: z.object({ completed: keepSchema, failed: keepSchema }).partial().strict(),
    /** Tasks started at most per sliding window, across all workers; null: no limit. */
    rateLimit: rateLimitSchema.nullable(),
    /** Tasks active at once across all workers; null: no limit. */
    concurrency: z.number().int().min(1).max(1_000_000).nullable(),
    /** Limits of every group (each group may have its own: configureGroup). */
    groups: groupLimitsSchema,
    /** Partitions (src/queue/partitions.ts): the queue's tasks spread over this many queue layouts, each its own hash slot. */
    partitions: z.number().int().min(1).max(MAX_PARTITIONS),
  })
  .partial()
  .strict();

export type SettingsPatch = z.input<typeof settingsPatchSchema>;
export type GroupLimitsPatch = z.input<typeof groupLimitsSchema>;

export interface RateLimit {
  max: number;
  perMs: number;
}

export interface GroupLimits {
  concurrency: number | null;
  rateLimit: RateLimit | null;
}

/** A queue's settings as stored, with the defaults filled in. */
export interface QueueSettings {
  /** Goes up by one with every change. 0: never configured. */
  version: number;
  maxWaiting: number | null;
  retention: { completed: { count: number; maxAgeMs: number }; failed: { count: number; maxAgeMs: number } };
  rateLimit: RateLimit | null;
  concurrency: number | null;
  groups: GroupLimits;
  /** Partitions producers spread new tasks over (1: not partitioned). */
  partitions: number;
}

export function parseSettingsPatch(input: unknown): z.output<typeof settingsPatchSchema> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ValidationError('queue settings are an object, e.g. { rateLimit: { max: 100, perMs: 1000 } }');
  }
  const parsed = settingsPatchSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(`invalid queue settings: ${formatIssues(parsed.error.issues)}`, { cause: parsed.error });
  return parsed.data;
}

export function parseGroupLimits(input: unknown): z.output<typeof groupLimitsSchema> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ValidationError('group settings are an object, e.g. { concurrency: 5 }');
  }
  const parsed = groupLimitsSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(`invalid group settings: ${formatIssues(parsed.error.issues)}`, { cause: parsed.error });
  return parsed.data;
}

/** Field → value ('' removes the field) for a checked patch. */
export function settingsFields(patch: z.output<typeof settingsPatchSchema>): [string, string][] {
  const fields: [string, string][] = [];
  const put = (field: string, value: number | null | undefined) => {
    if (value !== undefined) fields.push([field, value === null ? '' : String(value)]);
  };
  put(S.maxWaiting, patch.maxWaiting);
  put(S.completedCount, patch.retention?.completed?.count);
  put(S.completedMaxAgeMs, patch.retention?.completed?.maxAgeMs);
  put(S.failedCount, patch.retention?.failed?.count);
  put(S.failedMaxAgeMs, patch.retention?.failed?.maxAgeMs);
  if (patch.rateLimit !== undefined) {
    put(S.rateMax, patch.rateLimit === null ? null : patch.rateLimit.max);
    put(S.ratePerMs, patch.rateLimit === null ? null : patch.rateLimit.perMs);
  }
  put(S.concurrency, patch.concurrency);
  if (patch.groups) fields.push(...groupFields(patch.groups, S.groupConcurrency, S.groupRateMax, S.groupRatePerMs));
  if (!fields.length && patch.partitions === undefined) throw new ValidationError('the settings change is empty: give at least one setting');
  return fields;
}

/** A group as admin views show it. */
export interface GroupInfo {
  name: string;
  /** Its tasks waiting now. */
  waiting: number;
  /** Its tasks active now that hold one of its concurrency slots (counted while it has a limit). */
  active: number;
  paused: boolean;
  /** Held (by a limit, or a handler's RateLimitedError) until this epoch ms; absent when not held by time. */
  heldUntil?: number;
  /** Its own limits (configureGroup); a limit left out is the queue's default for every group. */
  limits: { concurrency?: number; rateLimit?: RateLimit };
}

/** Field → value ('' removes) of group limits, under the given field names. */
export function groupFields(limits: z.output<typeof groupLimitsSchema>, concurrency: string, rateMax: string, ratePerMs: string): [string, string][] {
  const fields: [string, string][] = [];
  if (limits.concurrency !== undefined) fields.push([concurrency, limits.concurrency === null ? '' : String(limits.concurrency)]);
  if (limits.rateLimit !== undefined) {
    fields.push([rateMax, limits.rateLimit === null ? '' : String(limits.rateLimit.max)]);
    fields.push([ratePerMs, limits.rateLimit === null ? '' : String(limits.rateLimit.perMs)]);
  }
  return fields;
}

function numberOf(hash: Record<string, string>, field: string): number | null {
  const value = hash[field];
  return value === undefined || value === '' ? null : Number(value);
}

function rateOf(hash: Record<string, string>, max: string, perMs: string): RateLimit | null {
  const m = numberOf(hash, max);
  const p = numberOf(hash, perMs);
  return m === null || p === null ? null : { max: m, perMs: p };
}

/**
 * The stored hash as settings, defaults filled in. A partitioned queue's own hash holds its
 * first partition's share; the queue's settings as given are kept beside it (`partitions.logical`).
 */
export function decodeSettings(stored: Record<string, string>): QueueSettings {
  const logical = stored[S.partitionLogical];
  const hash: Record<string, string> = logical ? { ...(JSON.parse(logical) as Record<string, string>), [S.version]: stored[S.version] ?? '0' } : stored;
  return {
    version: numberOf(hash, S.version) ?? 0,
    maxWaiting: numberOf(hash, S.maxWaiting),
    retention: {
      completed: {
        count: numberOf(hash, S.completedCount) ?? DEFAULT_RETENTION.completed.count,
        maxAgeMs: numberOf(hash, S.completedMaxAgeMs) ?? DEFAULT_RETENTION.completed.maxAgeMs,
      },
      failed: {
        count: numberOf(hash, S.failedCount) ?? DEFAULT_RETENTION.failed.count,
        maxAgeMs: numberOf(hash, S.failedMaxAgeMs) ?? DEFAULT_RETENTION.failed.maxAgeMs,
      },
    },
    rateLimit: rateOf(hash, S.rateMax, S.ratePerMs),
    concurrency: numberOf(hash, S.concurrency),
    groups: {
      concurrency: numberOf(hash, S.groupConcurrency),
      rateLimit: rateOf(hash, S.groupRateMax, S.groupRatePerMs),
    },
    partitions: numberOf(stored, S.partitions) ?? 1,
  };
}
