/**
 * The shapes of a task as users see it, and the decoding of a task hash into them.
 * Field names come from keys.ts; nothing else reads a task hash.
 */
import type { TaskErrorInfo } from '../errors.js';
import { TASK_FIELDS as F, type TaskState } from '../redis/keys.js';
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
  /** Id of the worker holding the lease, while active. */
  worker?: string;
  dedupeKey?: string;
  backoff?: BackoffOptions;
  timeoutMs?: number;
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
}

function optionalNumber(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}

function optionalJson<T>(value: string | undefined): T | undefined {
  return value === undefined ? undefined : (JSON.parse(value) as T);
}

export function decodeTask<P, R>(queue: string, id: string, hash: Record<string, string>): TaskInfo<P, R> | null {
  const state = hash[F.state] as TaskState | undefined;
  if (!state) return null;
  const info: TaskInfo<P, R> = {
    id,
    queue,
    state,
    payload: JSON.parse(hash[F.payload] ?? 'null') as P,
    attempt: Number(hash[F.attempt] ?? 0),
    maxAttempts: Number(hash[F.maxAttempts] ?? DEFAULT_ATTEMPTS), // absent: the default
    priority: Number(hash[F.priority] ?? 0),
    createdAt: Number(hash[F.createdAt] ?? 0),
    attempts: optionalJson<TaskAttempt[]>(hash[F.history]) ?? [],
  };
  const runAt = optionalNumber(hash[F.runAt]);
  if (runAt !== undefined) info.runAt = runAt;
  const startedAt = optionalNumber(hash[F.startedAt]);
  if (startedAt !== undefined) info.startedAt = startedAt;
  const finishedAt = optionalNumber(hash[F.finishedAt]);
  if (finishedAt !== undefined) info.finishedAt = finishedAt;
  if (hash[F.result] !== undefined) info.result = optionalJson<R>(hash[F.result]);
  const error = optionalJson<TaskErrorInfo>(hash[F.error]);
  if (error) info.error = error;
  if (hash[F.worker]) info.worker = hash[F.worker]; // blanked once the task finished
  if (hash[F.dedupeKey] !== undefined) info.dedupeKey = hash[F.dedupeKey];
  const backoff = optionalJson<BackoffOptions>(hash[F.backoff]);
  if (backoff) info.backoff = backoff;
  const timeoutMs = optionalNumber(hash[F.timeoutMs]);
  if (timeoutMs !== undefined) info.timeoutMs = timeoutMs;
  return info;
}
