/**
 * The one small interface every benchmarked system implements, so scenarios never know
 * which library they drive. A system has a producer side (used in the bench's own process)
 * and a worker side (used inside a separate worker process, see bench/worker-process.ts).
 */

export type SystemName = 'errand' | 'bullmq' | 'beequeue';
export const SYSTEM_NAMES: readonly SystemName[] = ['errand', 'bullmq', 'beequeue'];

/** The tiny task every scenario sends. */
export interface BenchPayload {
  /** Sequence number within the run, 0-based. */
  i: number;
  /** Enqueue time: microseconds on the machine's monotonic clock (see bench/clock.ts). */
  t: number;
  /**
   * Set on tasks whose enqueue → start latency is not recorded: warm-ups, and background
   * load (the flow scenario's heavy tenant).
   */
  w?: 1;
}

/** What every no-op handler returns: a small value, stored by each library as its result. */
export const HANDLER_RESULT = { ok: true } as const;

/** Where the bench's private Redis listens. */
export interface RedisTarget {
  host: string;
  port: number;
  url: string;
}

/** Errand's opt-in wait for replicas (the durability scenario; other systems have none). */
export interface DurabilitySetting {
  replicas: number;
  timeoutMs: number;
}

/** Errand's queue rate limit, or a peer's limiter at the same setting (the flow scenario). */
export interface RateLimitSetting {
  max: number;
  perMs: number;
}

export interface ProducerOptions {
  redis: RedisTarget;
  queue: string;
  /** Open the library's result mechanism (needed only by enqueueAndWait). */
  awaitResults: boolean;
  durability?: DurabilitySetting;
}

export interface QueueCounts {
  waiting: number;
  active: number;
  /** Completed tasks the library still holds (after its retention). */
  completed: number;
  failed: number;
  delayed: number;
}

export interface Producer {
  /**
   * Adds one task; resolves once the library says it is stored. `group`: the task's group
   * (Errand only: the peers throw, having no open groups).
   */
  enqueueOne(payload: BenchPayload, group?: string): Promise<void>;
  /** Adds many tasks with the library's own batch call; `groupOf` names each task's group (Errand only). */
  enqueueBulk(payloads: BenchPayload[], groupOf?: (payload: BenchPayload) => string): Promise<void>;
  /**
   * Adds one task and resolves when the producer sees it completed, through the library's
   * own result mechanism (Errand task.result(), BullMQ job.waitUntilFinished, Bee-Queue
   * job 'succeeded' event). Rejects if the task failed.
   */
  enqueueAndWait(payload: BenchPayload): Promise<unknown>;
  counts(): Promise<QueueCounts>;
  close(): Promise<void>;
}

/** Where a worker runs its handlers: in its own process (default), or in the library's sandbox. */
export type Isolation = 'thread' | 'process';

export interface WorkerStartOptions {
  redis: RedisTarget;
  queue: string;
  concurrency: number;
  /**
   * Run the no-op handler isolated: in a pool of worker threads or child processes (Errand's
   * `isolation`, BullMQ's sandboxed processors), from a plain JavaScript file. `onStart` is
   * then called on the library's own "active" event in the worker, where the payload is.
   */
  isolation?: Isolation;
  /** Remove completed tasks at once instead of keeping the library's default retention. */
  removeCompleted: boolean;
  durability?: DurabilitySetting;
  /**
   * A rate limit on task starts, set before the worker starts: Errand's queue setting
   * (`configure({ rateLimit })`), BullMQ's worker `limiter`; systems without a limiter throw.
   */
  rateLimit?: RateLimitSetting;
  /** Called first thing in the handler, with the task's payload. */
  onStart(payload: BenchPayload): void;
  /** Called on the library's own event saying a completion was recorded in Redis. */
  onCompleted(): void;
  onError(error: Error): void;
}

export interface WorkerHandle {
  /** Graceful close: waits for running handlers, then disconnects. */
  close(): Promise<void>;
}

export interface BenchSystem {
  name: SystemName;
  /** Human label with the pinned version, e.g. "BullMQ 6.7.0". */
  label: string;
  version: string;
  /** Opens a producer whose connection is ready (so timing excludes the connect). */
  openProducer(options: ProducerOptions): Promise<Producer>;
  /** Constructs a worker that starts processing at once. */
  startWorker(options: WorkerStartOptions): Promise<WorkerHandle>;
}
