/**
 * Messages between the bench (parent) and a worker process (child), over Node's IPC
 * channel. One worker process serves one system and runs one worker at a time.
 */
import type { DurabilitySetting, Isolation, RedisTarget, SystemName } from './systems/types.js';

export interface StartCommand {
  type: 'start';
  redis: RedisTarget;
  queue: string;
  concurrency: number;
  removeCompleted: boolean;
  /** Record enqueue → start latencies (latency runs). */
  recordStarts: boolean;
  /** Report `done` when this many completions were seen (processing runs). */
  expect?: number;
  durability?: DurabilitySetting;
  /** Handlers in the library's threads or processes (the isolated scenario). */
  isolation?: Isolation;
}

export type ParentMessage = StartCommand | { type: 'stop' } | { type: 'exit' };

/** What a worker saw during one run. */
export interface WorkerReport {
  /** Handler starts, and distinct task numbers among them (a difference means duplicates). */
  starts: number;
  distinct: number;
  /** The library's own "completion recorded" events. */
  completed: number;
  /** Enqueue → handler start of every non-warm-up task, in µs (monotonic clock). */
  startLatenciesUs: number[];
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
}

export type ChildMessage =
  | { type: 'ready'; system: SystemName }
  | { type: 'started' }
  | ({ type: 'done' } & DoneTiming)
  | { type: 'stopped'; report: WorkerReport }
  | { type: 'failed'; message: string };
