/**
 * The shapes of a task as users see it, and the decoding of a task hash into them.
 * Field names come from keys.ts; nothing else reads a task hash.
 */
import type { TaskErrorInfo } from '../errors.js';
import { TASK_FIELDS as F } from '../redis/keys.js';
import { stateFromCode, type TaskState } from './states.js';
import { DEFAULT_ATTEMPTS, type BackoffOptions } from '../config.js';

/** One failed attempt, as recorded with the task. */
export interface TaskAttempt {
  attempt: number;
  startedAt: number | null;
  finishedAt: number;
  error: TaskErrorInfo;
}

/** Everything stored about a task. Times are epoch ms on the Redis server's clock. */
export interface TaskInfo<P = unknown, R = unknown> {
  id: string;
  queue: string;
  state: TaskState;
  payload: P;
  /** Runs started so far (the current one included while active). */
  attempt: number;
  maxAttempts: number;
  priority: number;
  createdAt: number;
  /** When a delayed task (or a retry) becomes ready. */
  runAt?: number;
  /** Start of the latest attempt. */
  startedAt?: number;
  finishedAt?: number;
  /** The handler's result, once completed (absent when it returned undefined). */
  result?: R;
  /** The latest attempt's error. */
  error?: TaskErrorInfo;
  /** Every failed attempt, oldest first. */
  attempts: TaskAttempt[];
  /** While active: the worker holding the lease, as of that worker's last heartbeat. */
  worker?: string;
  dedupeKey?: string;
  /** The task's group, if it was enqueued with one. */
  group?: string;
  backoff?: BackoffOptions;
  timeoutMs?: number;
  /**
   * The latest progress its latest attempt reported (`context.progress()`); absent before
   * the first report of each attempt.
   */
  progress?: unknown;
}

/** A claimed task, as a handler receives it. */
export interface ActiveTask<P = unknown> {
  id: string;
  queue: string;
  payload: P;
  /** 1 for the first run. */
  attempt: number;
  maxAttempts: number;
  createdAt: number;
  /** The task's group, if it was enqueued with one. */
  group?: string;
  /** A flow child's parent (src/flows): the task that runs once this one and its siblings finished. */
  parent?: { queue: string; id: string };
  /** A chain step after the first: the previous step's result (also its payload). */
  previous?: unknown;
}

function optionalNumber(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}

function optionalJson<T>(value: string | undefined): T | undefined {
  return value === undefined ? undefined : (JSON.parse(value) as T);
}

export interface TaskTimes {
  createdAt: number;
  runAt?: number;
  startedAt?: number;
  finishedAt?: number;
}

/** The task-hash time fields, in their order for HMGET. */
export const TIME_FIELDS = [F.createdAt, F.runAt, F.startedAt, F.finishedAt] as const;

/**
 * Epoch-ms times from the stored fields: createdAt is absolute, the others are stored as ms
 * after it (see docs/redis-layout.md).
 */
export function decodeTaskTimes(
  createdAt: string | null | undefined,
  runAt: string | null | undefined,
  startedAt: string | null | undefined,
  finishedAt: string | null | undefined,
): TaskTimes {
  const created = Number(createdAt ?? 0);
  const times: TaskTimes = { createdAt: created };
  const after = (offset: string | null | undefined) => (offset === null || offset === undefined || offset === '' ? undefined : created + Number(offset));
  const run = after(runAt);
  if (run !== undefined) times.runAt = run;
  const started = after(startedAt);
  if (started !== undefined) times.startedAt = started;
  const finished = after(finishedAt);
  if (finished !== undefined) times.finishedAt = finished;
  return times;
}

export function decodeTask<P, R>(queue: string, id: string, hash: Record<string, string>): TaskInfo<P, R> | null {
  const state = stateFromCode(hash[F.state]);
  if (!state) return null;
  const info: TaskInfo<P, R> = {
    id,
    queue,
    state,
    payload: JSON.parse(hash[F.payload] ?? 'null') as P,
    attempt: Number(hash[F.attempt] ?? 0),
    maxAttempts: Number(hash[F.maxAttempts] ?? DEFAULT_ATTEMPTS), // absent: the default
    priority: Number(hash[F.priority] ?? 0),
    createdAt: 0, // set with the other times below
    attempts: optionalJson<TaskAttempt[]>(hash[F.history]) ?? [],
  };
  Object.assign(info, decodeTaskTimes(hash[F.createdAt], hash[F.runAt], hash[F.startedAt], hash[F.finishedAt]));
  if (hash[F.result] !== undefined) info.result = optionalJson<R>(hash[F.result]);
  const error = optionalJson<TaskErrorInfo>(hash[F.error]);
  if (error) info.error = error;
  if (hash[F.dedupeKey] !== undefined) info.dedupeKey = hash[F.dedupeKey];
  if (hash[F.group] !== undefined) info.group = hash[F.group];
  const backoff = optionalJson<BackoffOptions>(hash[F.backoff]);
  if (backoff) info.backoff = backoff;
  const timeoutMs = optionalNumber(hash[F.timeoutMs]);
  if (timeoutMs !== undefined) info.timeoutMs = timeoutMs;
  // Stored as `<token>|<json>`: it belongs to the attempt whose token (start) it carries.
  const progress = hash[F.progress];
  if (progress !== undefined) {
    const bar = progress.indexOf('|');
    if (progress.slice(0, bar) === hash[F.startedAt]) info.progress = JSON.parse(progress.slice(bar + 1));
  }
  return info;
}
