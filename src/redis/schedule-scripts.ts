/**
 * The typed boundary to the schedule scripts (schedule-*.lua): one function per script,
 * owning its KEYS (the queue's fence, then `schedules` or `meta`), its ARGV and the
 * decoding of its reply. The schedules' own logic (what a slot is) is src/queue/schedules.ts;
 * what happens at a slot is lib/schedules.lua.
 */
import type { QueueKeys } from './keys.js';
import type { Arg, ScriptCall, ScriptName } from './scripts.js';
import { Status, type StatusCode } from './status.js';

function call<T>(name: ScriptName, keys: string[], args: Arg[], decode: (reply: unknown) => T): ScriptCall<T> {
  return { name, keys, args, decode };
}

/** An epoch-ms slot as a script answers it ('' for none). */
function slotOf(value: unknown): number | null {
  return value === '' || value === undefined || value === null ? null : Number(value);
}

export type ScheduleChange = 'unchanged' | 'created' | 'changed';

/**
 * Creates or changes a schedule: `fields` are the stored fields (field → value, '' removes
 * one), `slots` a cron schedule's slots after now. Unchanged when the digest is the stored one.
 */
export function upsertSchedule(
  k: QueueKeys,
  request: { id: string; digest: string; definitionJson: string; fields: readonly [string, string][]; slots: readonly string[] },
): ScriptCall<{ change: ScheduleChange; next: number | null }> {
  const args: Arg[] = [request.id, request.digest, request.definitionJson, request.fields.length, ...request.fields.flat(), ...request.slots];
  return call('schedule-upsert', [k.fence, k.schedules], args, (reply) => {
    const [change, next] = reply as [number | string, string];
    return { change: (['unchanged', 'created', 'changed'] as const)[Number(change)]!, next: slotOf(next) };
  });
}

/** Deletes a schedule; resolves whether it existed. */
export function removeSchedule(k: QueueKeys, id: string): ScriptCall<boolean> {
  return call('schedule-remove', [k.fence, k.schedules], [id], (reply) => Number(reply) === 1);
}

/**
 * Pauses a schedule, or resumes it (`digest`: the definition `slots` were computed for, a
 * cron schedule's slots after now). INVALID_STATE: the definition changed meanwhile.
 */
export function pauseSchedule(
  k: QueueKeys,
  request: { id: string; paused: boolean; digest?: string; slots: readonly string[] },
): ScriptCall<{ status: StatusCode; next: number | null }> {
  return call('schedule-pause', [k.fence, k.schedules], [request.id, request.paused ? '1' : '', request.digest ?? '', ...request.slots], (reply) => {
    const [status, next] = reply as [number | string, string];
    return { status: Number(status) as StatusCode, next: slotOf(next) };
  });
}

/**
 * Adds computed cron slots: 'append' after `expected` (the last slot listed as read),
 * 'rebuild' for a schedule without a slot ahead (`expected`: its next slot as read).
 * Resolves whether they were added (false: the schedule changed meanwhile).
 */
export function addScheduleSlots(
  k: QueueKeys,
  request: { id: string; digest: string; mode: 'append' | 'rebuild'; expected: string; slots: readonly string[] },
): ScriptCall<boolean> {
  const args: Arg[] = [request.id, request.digest, request.mode, request.expected, ...request.slots];
  return call('schedule-slots', [k.fence, k.schedules], args, (reply) => Number(reply) === 1);
}

export type RunScheduleReply = { status: typeof Status.OK; taskId: string } | { status: typeof Status.TASK_NOT_FOUND } | { status: typeof Status.QUEUE_FULL; maxWaiting: number };

/** Creates a run of a schedule now. */
export function runSchedule(k: QueueKeys, id: string): ScriptCall<RunScheduleReply> {
  return call('schedule-run', [k.fence, k.meta], [id], (reply) => {
    const [status, value] = reply as [number | string, string | number | undefined];
    const code = Number(status);
    if (code === Status.OK) return { status: Status.OK, taskId: String(value) };
    if (code === Status.QUEUE_FULL) return { status: Status.QUEUE_FULL, maxWaiting: Number(value) };
    return { status: Status.TASK_NOT_FOUND };
  });
}

export interface FireReply {
  /** How many cron schedules wait for their slots to be computed. */
  schedulesToRefill: number;
  /** ms until the next slot falls due (-1: none; 0: more is due: call again). */
  scheduleDueInMs: number;
}

/** Creates the runs of the schedule slots that are due (any worker; once per slot). */
export function fireSchedules(k: QueueKeys): ScriptCall<FireReply> {
  return call('schedule-fire', [k.fence, k.meta], [], (reply) => {
    const [refill, dueIn] = reply as [number | string, number | string];
    return { schedulesToRefill: Number(refill), scheduleDueInMs: Number(dueIn) };
  });
}
