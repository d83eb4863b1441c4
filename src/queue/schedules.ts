/**
 * Schedules as their owner defines them: the definition's schema and checks (a cron
 * expression read by croner, a time zone Intl knows, a period of at least 1 s, one of cron
 * and everyMs), its canonical form and digest (what makes `schedule()` an upsert: the same
 * definition changes nothing), the cron slots computed ahead with croner (time zones and
 * DST), the fields the schedule scripts store, and how a stored schedule reads back.
 *
 * The scripts (lib/schedules.lua) own what happens at a slot; this module owns what a slot
 * is. Every-N slots are `anchor + k × everyMs` (anchor: startAt, else the Unix epoch), so
 * every process and every redeploy agrees on them.
 */
import { createHash } from 'node:crypto';
import { Cron } from 'croner';
import { z } from 'zod';
import { defaultTaskOptionsSchema, formatIssues, taskOptionsShape } from '../config.js';
import { ValidationError } from '../errors.js';
import { encodeJson } from '../json.js';
import { CRON_END, SCHEDULE_RUN_PREFIX, SCHEDULE_FIELDS as SF } from '../redis/keys.js';

/** Schedule ids: 1-100 characters from A-Z a-z 0-9 . _ - (a run's task id adds the slot). */
export const SCHEDULE_ID_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;
export const MIN_EVERY_MS = 1_000;
const MAX_EVERY_MS = 366 * 24 * 3_600_000;
/** Cron slots computed ahead at a time (fewer than SCHEDULE_SLOTS_LOW left asks a worker for more). */
export const SLOTS_AHEAD = 100;
/** The most runs `catchUp: 'all'` creates for one outage (the latest missed slots). */
export const MAX_CATCH_UP = 1_000;
export const DEFAULT_MAX_CATCH_UP = 100;
export const DEFAULT_MISSED_AFTER_MS = 60_000;

/** A time as JSON carries it: epoch ms, or ISO 8601 with an offset. */
const jsonTime = z.union([z.number().int().min(0).max(8.64e15), z.iso.datetime({ offset: true })]);

/** The task options a schedule's runs get (each run is a task like any other). */
const runOptionsSchema = defaultTaskOptionsSchema.extend({ group: taskOptionsShape.group }).strict();

/**
 * A schedule's definition as JSON carries it (the gateway's request body, with these
 * descriptions in /openapi.json); the library takes Dates for the times too.
 */
export const scheduleJsonSchema = z
  .object({
    cron: z.string().min(1).max(256).optional().meta({ description: "a cron expression, croner's syntax: 5 fields, 6 with seconds first, or 7 with a year last; `0 3 * * *`, `@daily`" }),
    tz: z.string().min(1).max(64).optional().meta({ description: 'the IANA time zone the cron expression is read in (default UTC); cron only' }),
    everyMs: z.number().int().min(MIN_EVERY_MS).max(MAX_EVERY_MS).optional().meta({ description: 'a slot every this many ms (at least 1,000), aligned to startAt (else the Unix epoch)' }),
    payload: z.unknown().optional().meta({ description: "each run's payload (any JSON value; default null)" }),
    options: runOptionsSchema.optional().meta({ description: "each run's task options" }),
    catchUp: z.enum(['none', 'one', 'all']).optional().meta({ description: "slots missed while no worker ran: 'none' skips them, 'one' (default) runs once, 'all' runs each (up to maxCatchUp)" }),
    maxCatchUp: z.number().int().min(1).max(MAX_CATCH_UP).optional().meta({ description: "with catchUp 'all': at most this many runs for the missed slots, the latest (default 100, at most 1,000)" }),
    missedAfterMs: z.number().int().min(0).max(MAX_EVERY_MS).optional().meta({ description: "with catchUp 'none': a slot whose run would be created later than this after its time is skipped (default 60,000)" }),
    startAt: jsonTime.optional().meta({ description: 'no slot before this time (epoch ms, or ISO 8601 with an offset)' }),
    endAt: jsonTime.optional().meta({ description: 'no slot after this time' }),
    limit: z.number().int().min(1).max(1_000_000_000).optional().meta({ description: 'at most this many runs in all (run-now included); then the schedule has ended' }),
  })
  .strict()
  .meta({ id: 'ScheduleDefinition' });

/** The library's definition: the JSON one, and Dates for the times. */
export const scheduleSchema = scheduleJsonSchema.extend({
  startAt: z.union([jsonTime, z.date()]).optional(),
  endAt: z.union([jsonTime, z.date()]).optional(),
});

export type ScheduleDefinition = z.input<typeof scheduleSchema>;

/** A definition as stored and shown: times as epoch ms, defaults filled in. */
export type ScheduleSpec = {
  cron?: string;
  tz?: string;
  everyMs?: number;
  payload: unknown;
  options: z.output<typeof runOptionsSchema>;
  catchUp: 'none' | 'one' | 'all';
  maxCatchUp: number;
  missedAfterMs: number;
  startAt?: number;
  endAt?: number;
  limit?: number;
};

/** A schedule as stored, with its state. */
export interface ScheduleInfo {
  id: string;
  definition: ScheduleSpec;
  /** When its next slot falls due (epoch ms, Redis clock); null while paused or once ended. */
  nextRunAt: number | null;
  /** The last slot that fell due (run, or skipped by the catch-up rule); null before the first. */
  lastSlotAt: number | null;
  /** When its last run was created, and that run's task id. */
  lastRunAt: number | null;
  lastTaskId: string | null;
  /** Runs created in all (slots and run-now). */
  runs: number;
  paused: boolean;
  /** Past its endAt or limit, or its cron expression matches no more. */
  ended: boolean;
  createdAt: number;
  updatedAt: number;
}

function toMs(value: number | string | Date | undefined): number | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'number' ? value : new Date(value).getTime();
}

/** A cron evaluator for a spec (no job is started). */
function cronOf(spec: Pick<ScheduleSpec, 'cron' | 'tz'>): Cron {
  return new Cron(spec.cron!, { timezone: spec.tz ?? 'UTC', paused: true });
}

function checkTimeZone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new ValidationError(`unknown time zone "${tz}": use an IANA name, like Europe/Berlin or America/New_York`);
  }
}

/** The cron expression's problem, in croner's words (which name the field), or undefined. */
function cronProblem(expression: string, tz: string | undefined): string | undefined {
  try {
    const cron = cronOf({ cron: expression, tz });
    if (cron.nextRun(new Date()) === null) return 'it never matches a future time';
    return undefined;
  } catch (error) {
    return (error as Error).message.replace(/^Cron(Pattern|Date)?:\s*/, '');
  }
}

/** Checks a definition; a problem throws ValidationError naming it, before anything is written. */
export function parseSchedule(id: string, input: unknown, maxPayloadBytes: number): { spec: ScheduleSpec; digest: string; payloadJson: string } {
  if (typeof id !== 'string' || !SCHEDULE_ID_PATTERN.test(id)) {
    throw new ValidationError(`invalid schedule id ${JSON.stringify(id)}: use 1-100 characters from A-Z a-z 0-9 . _ -`);
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ValidationError(`schedule "${id}": the definition is an object, e.g. { cron: '0 3 * * *', payload: {} } or { everyMs: 30000 }`);
  }
  const parsed = scheduleSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(`invalid schedule "${id}": ${formatIssues(parsed.error.issues)}`, { cause: parsed.error });
  const d = parsed.data;
  if ((d.cron === undefined) === (d.everyMs === undefined)) {
    throw new ValidationError(`invalid schedule "${id}": give either cron or everyMs${d.cron !== undefined ? ', not both' : ''}`);
  }
  if (d.tz !== undefined) {
    if (d.cron === undefined) throw new ValidationError(`invalid schedule "${id}": tz is for a cron expression (everyMs counts real time)`);
    checkTimeZone(d.tz);
  }
  if (d.cron !== undefined) {
    const problem = cronProblem(d.cron, d.tz);
    if (problem) throw new ValidationError(`invalid schedule "${id}": cron "${d.cron}": ${problem}`);
  }
  const startAt = toMs(d.startAt);
  const endAt = toMs(d.endAt);
  if (startAt !== undefined && !Number.isFinite(startAt)) throw new ValidationError(`invalid schedule "${id}": startAt is not a valid time`);
  if (endAt !== undefined && !Number.isFinite(endAt)) throw new ValidationError(`invalid schedule "${id}": endAt is not a valid time`);
  if (startAt !== undefined && endAt !== undefined && endAt <= startAt) {
    throw new ValidationError(`invalid schedule "${id}": endAt must be after startAt`);
  }
  if (d.maxCatchUp !== undefined && d.catchUp !== 'all') throw new ValidationError(`invalid schedule "${id}": maxCatchUp goes with catchUp: 'all'`);
  if (d.missedAfterMs !== undefined && d.catchUp !== 'none') throw new ValidationError(`invalid schedule "${id}": missedAfterMs goes with catchUp: 'none'`);
  const payloadJson = encodeJson(d.payload ?? null, 'schedule payload', maxPayloadBytes);
  const spec: ScheduleSpec = {
    ...(d.cron !== undefined ? { cron: d.cron } : {}),
    ...(d.tz !== undefined ? { tz: d.tz } : {}),
    ...(d.everyMs !== undefined ? { everyMs: d.everyMs } : {}),
    payload: JSON.parse(payloadJson) as unknown,
    options: d.options ?? {},
    catchUp: d.catchUp ?? 'one',
    maxCatchUp: d.maxCatchUp ?? DEFAULT_MAX_CATCH_UP,
    missedAfterMs: d.missedAfterMs ?? DEFAULT_MISSED_AFTER_MS,
    ...(startAt !== undefined ? { startAt } : {}),
    ...(endAt !== undefined ? { endAt } : {}),
    ...(d.limit !== undefined ? { limit: d.limit } : {}),
  };
  return { spec, digest: digestOf(spec), payloadJson };
}

/** JSON with object keys sorted, so one definition always gives one text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function digestOf(spec: ScheduleSpec): string {
  return createHash('sha256').update(canonical(spec)).digest('hex').slice(0, 32);
}

/**
 * The slots of a cron schedule after `after` (epoch ms), up to `count`, within its startAt
 * and endAt, ascending; ending with CRON_END when the expression has no more within them.
 */
export function cronSlotsAfter(spec: ScheduleSpec, after: number, count = SLOTS_AHEAD): string[] {
  const cron = cronOf(spec);
  const from = Math.max(after, (spec.startAt ?? 0) - 1);
  const slots: string[] = [];
  let at = new Date(from);
  while (slots.length < count) {
    const next = cron.nextRun(at);
    if (!next || (spec.endAt !== undefined && next.getTime() > spec.endAt)) {
      slots.push(CRON_END);
      break;
    }
    slots.push(String(next.getTime()));
    at = next;
  }
  return slots;
}

/** Up to `count` slots of a cron schedule at or before `at` and after `after`, ascending (catch-up after an outage). */
export function cronSlotsBefore(spec: ScheduleSpec, at: number, after: number, count: number): string[] {
  const runs = cronOf(spec).previousRuns(count, new Date(at + 1));
  return runs
    .map((date) => date.getTime())
    .filter((t) => t > after && t >= (spec.startAt ?? 0) && (spec.endAt === undefined || t <= spec.endAt))
    .sort((a, b) => a - b)
    .map(String);
}

/** The fields the upsert script stores (field name → value; '' for unset). */
export function scheduleFields(spec: ScheduleSpec, payloadJson: string): [string, string][] {
  const o = spec.options;
  return [
    [SF.kind, spec.cron !== undefined ? 'c' : 'e'],
    [SF.everyMs, spec.everyMs !== undefined ? String(spec.everyMs) : ''],
    [SF.anchor, spec.everyMs !== undefined ? String(spec.startAt ?? 0) : ''],
    [SF.catchUp, spec.catchUp],
    [SF.maxCatchUp, spec.catchUp === 'all' ? String(spec.maxCatchUp) : '1'],
    [SF.missedAfterMs, String(spec.missedAfterMs)],
    [SF.endAt, spec.endAt !== undefined ? String(spec.endAt) : ''],
    [SF.limit, spec.limit !== undefined ? String(spec.limit) : ''],
    [SF.payload, payloadJson],
    [SF.priority, String(o.priority ?? 0)],
    [SF.maxAttempts, o.attempts !== undefined ? String(o.attempts) : ''],
    [SF.backoff, o.backoff ? JSON.stringify(o.backoff) : ''],
    [SF.timeoutMs, o.timeoutMs !== undefined ? String(o.timeoutMs) : ''],
    [SF.group, o.group ?? ''],
  ];
}

function numberOrNull(value: string | undefined): number | null {
  return value === undefined || value === '' ? null : Number(value);
}

/** A stored schedule hash as the API shows it. */
export function decodeSchedule(id: string, hash: Record<string, string>): ScheduleInfo {
  const paused = hash[SF.paused] === '1';
  const ended = hash[SF.ended] === '1';
  return {
    id,
    definition: JSON.parse(hash[SF.def] ?? '{}') as ScheduleSpec,
    nextRunAt: paused || ended ? null : numberOrNull(hash[SF.next]),
    lastSlotAt: numberOrNull(hash[SF.last]),
    lastRunAt: numberOrNull(hash[SF.lastRunAt]),
    lastTaskId: hash[SF.lastTask] || null,
    runs: Number(hash[SF.runs] ?? 0),
    paused,
    ended,
    createdAt: Number(hash[SF.createdAt] ?? 0),
    updatedAt: Number(hash[SF.updatedAt] ?? 0),
  };
}

/** The task id of a schedule's run for one slot. */
export function scheduleRunId(id: string, slotMs: number): string {
  return `${SCHEDULE_RUN_PREFIX}${id}:${slotMs}`;
}

/** How late the schedule's due slot is at `nowMs` (0 when none is due): what the lag metric reports. */
export function scheduleLagMs(info: ScheduleInfo, nowMs: number): number {
  return info.nextRunAt !== null && info.nextRunAt < nowMs ? nowMs - info.nextRunAt : 0;
}
