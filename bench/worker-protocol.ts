/**
 * Messages between the bench (parent) and a worker process (child), over Node's IPC
 * channel. One worker process serves one system and runs one worker at a time.
 */
import type { DurabilitySetting, Isolation, RateLimitSetting, RedisTarget, SystemName } from './systems/types.js';

export interface StartCommand {
  type: 'start';
  redis: RedisTarget;
  queue: string;
  concurrency: number;
  removeCompleted: boolean;
  /** Record enqueue → start latencies (latency runs). */
  recordStarts: boolean;
  /** Record the time of every handler start (the flow scenario's rate limit and fairness). */
  recordStartTimes?: boolean;
  /** Report `done` when this many completions were seen (processing runs). */
  expect?: number;
  durability?: DurabilitySetting;
  /** Handlers in the library's threads or processes (the isolated scenario). */
  isolation?: Isolation;
  rateLimit?: RateLimitSetting;
}

export type ParentMessage = StartCommand | { type: 'stop' } | { type: 'exit' };

/** What a worker saw during one run. */
export interface WorkerReport {
  /** Handler starts, and distinct task numbers among them (a difference means duplicates). */
  starts: number;
  distinct: number;
  /** The library's own "completion recorded" events. */
  completed: number;
  /** Enqueue → handler start of every task not marked `w`, in µs (monotonic clock). */
  startLatenciesUs: number[];
  /** With `recordStartTimes`: every handler start, in µs on the monotonic clock, in order. */
  startTimesUs: number[];
  /** When the last start whose latency was recorded happened, µs on the monotonic clock (0: none). */
  lastRecordedStartUs: number;
  /** Worker errors reported by the library (first few). */
  errors: string[];
  /** CPU time (user + system) this worker process used from start to stop, µs. */
  cpuUs: number;
}

/** Times of a processing run, in ms from just before the worker was constructed. */
export interface DoneTiming {
  /** Until the library's `expect`-th completion event. */
  elapsedMs: number;
  /** Until the first handler started (connecting, loading scripts, the first claim). */
  firstStartMs: number;
  /** When the first handler started, in µs on the monotonic clock (comparable across processes). */
  firstStartUs: number;
}

export type ChildMessage =
  | { type: 'ready'; system: SystemName }
  | { type: 'started' }
  | ({ type: 'done' } & DoneTiming)
  | { type: 'stopped'; report: WorkerReport }
  | { type: 'failed'; message: string };
