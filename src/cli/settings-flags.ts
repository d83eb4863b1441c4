/**
 * The flags of `errand configure`, read into a settings patch: durations and rates as
 * people write them (`100/1s`, `5000/1m`, `30s`), `none` to remove a limit. Values the flags
 * cannot read are usage errors naming the flag; the patch itself is then checked by the
 * library, like any other.
 */
import { InvalidArgumentError } from 'commander';
import type { GroupLimitsPatch, SettingsPatch } from '../index.js';

/**
 * What a flag given `none` holds. Commander turns a parser's null into '', so the parsers
 * keep the word and {@link settingsPatch} turns it into the library's null.
 */
export type None = 'none';
type Rate = { max: number; perMs: number };

function orNull<T>(value: T | None | undefined): T | null | undefined {
  return value === 'none' ? null : value;
}

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `250ms`, `30s`, `5m`, `1h`, `7d`, or plain ms. */
export function duration(value: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('Use a duration like 500ms, 30s, 5m, 1h or 7d.');
  return Number(match[1]) * UNITS[match[2] ?? 'ms']!;
}

/** `none`, or a whole number from 1 up. */
export function limit(value: string): number | None {
  if (value === 'none') return 'none';
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('Use a whole number from 1 up, or none.');
  return Number(value);
}

/** `<max>/<window>` (`100/1s`, `5000/1m`), or `none`. */
export function rateLimit(value: string): Rate | None {
  if (value === 'none') return 'none';
  const [max, window, extra] = value.split('/');
  if (!max || !window || extra !== undefined || !/^\d+$/.test(max) || Number(max) < 1) {
    throw new InvalidArgumentError('Use <max>/<window>, like 100/1s or 5000/1m, or none.');
  }
  return { max: Number(max), perMs: duration(window.replace(/^(\D)/, '1$1')) };
}

export interface ConfigureFlags {
  maxWaiting?: number | None;
  rateLimit?: Rate | None;
  concurrency?: number | None;
  keepCompleted?: number;
  completedMaxAge?: number;
  keepFailed?: number;
  failedMaxAge?: number;
  groupConcurrency?: number | None;
  groupRateLimit?: Rate | None;
  partitions?: number;
}

export function settingsPatch(flags: ConfigureFlags): SettingsPatch {
  const patch: SettingsPatch = {};
  const maxWaiting = orNull(flags.maxWaiting);
  const rate = orNull(flags.rateLimit);
  const concurrency = orNull(flags.concurrency);
  if (maxWaiting !== undefined) patch.maxWaiting = maxWaiting;
  if (rate !== undefined) patch.rateLimit = rate;
  if (concurrency !== undefined) patch.concurrency = concurrency;
  const completed = { ...(flags.keepCompleted !== undefined ? { count: flags.keepCompleted } : {}), ...(flags.completedMaxAge !== undefined ? { maxAgeMs: flags.completedMaxAge } : {}) };
  const failed = { ...(flags.keepFailed !== undefined ? { count: flags.keepFailed } : {}), ...(flags.failedMaxAge !== undefined ? { maxAgeMs: flags.failedMaxAge } : {}) };
  if (Object.keys(completed).length || Object.keys(failed).length) {
    patch.retention = { ...(Object.keys(completed).length ? { completed } : {}), ...(Object.keys(failed).length ? { failed } : {}) };
  }
  const groups: GroupLimitsPatch = {};
  const groupConcurrency = orNull(flags.groupConcurrency);
  const groupRate = orNull(flags.groupRateLimit);
  if (groupConcurrency !== undefined) groups.concurrency = groupConcurrency;
  if (groupRate !== undefined) groups.rateLimit = groupRate;
  if (Object.keys(groups).length) patch.groups = groups;
  if (flags.partitions !== undefined) patch.partitions = flags.partitions;
  return patch;
}

/** A group's own limits from `--concurrency` and `--rate-limit` given with `--group`. */
export function groupLimitsPatch(flags: Pick<ConfigureFlags, 'concurrency' | 'rateLimit'>): GroupLimitsPatch {
  const concurrency = orNull(flags.concurrency);
  const rate = orNull(flags.rateLimit);
  return { ...(concurrency !== undefined ? { concurrency } : {}), ...(rate !== undefined ? { rateLimit: rate } : {}) };
}
