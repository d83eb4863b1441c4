/**
 * The producer side of a work queue, and its admin reads and actions.
 *
 * Responsible for: validating every task before anything reaches Redis, creating tasks in
 * batches (one script call per chunk), handing out `Task` handles whose results can be
 * awaited, and the admin actions (counts, pause, cancel, retry, remove, list). It never
 * runs handlers: that is the Worker's job.
 */
import {
  DEFAULT_ATTEMPTS,
  parseTaskOptions,
  resolveQueueOptions,
  validateName,
  validateTaskId,
  type QueueOptions,
  type ResolvedQueueOptions,
  type TaskOptions,
} from '../config.js';
import {
  ClosedError,
  InvalidStateError,
  QueueFullError,
  TaskNotFoundError,
  ValidationError,
} from '../errors.js';
import { encodeJson } from '../json.js';
import { closeClient, openClient, orUnavailable, type OwnedClient } from '../redis/connection.js';
import { subscribers } from '../redis/subscriber.js';
import { readMinuteCounts, validateMinutes } from '../redis/minute-counts.js';
import { QueueKeys, queuesKey, stateFromCode, TASK_STATES, type TaskState } from '../redis/keys.js';
import { defineScripts, runScript } from '../redis/scripts.js';
import { checkStatus, Status } from '../redis/status.js';
import { adoptList, type AdoptListOptions, type ListBridge } from './list-bridge.js';
import { ResultWaiter, type SentMark } from './results.js';
import { TaskEvents, type WatchOptions } from './task-events.js';
import { decodeTask, type TaskInfo } from './task.js';

/** Tasks per enqueue script call: big enough to amortize the round trip, small enough to
 * keep each script call short for other clients. */
const ENQUEUE_CHUNK = 1000;
/** Generated ids are digits only; callers' ids never are (encodeTask refuses them). */
const GENERATED_ID = /^\d+$/;

export interface ResultOptions {
  /** Reject with WaitTimeoutError after this many ms. Default: wait as long as it takes. */
  timeoutMs?: number;
}

function isEmptyObject(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const _key in value) return false;
  return true;
}

/** A task encoded for enqueue.lua: its 9 values, or its payload JSON alone when all its options are defaults. */
type EncodedTask = string | string[];

/** The 9 values of a task with default options (see enqueue.lua). */
function fullForm(payloadJson: string): string[] {
  return ['', payloadJson, '0', '0', '', String(DEFAULT_ATTEMPTS), '', '', ''];
}

/** An enqueueMany item carries options besides its payload. */
function hasOptions(item: object): boolean {
  for (const key in item) if (key !== 'payload') return true;
  return false;
}

function withoutPayload(item: object): Record<string, unknown> {
  const { payload: _payload, ...options } = item as Record<string, unknown>;
  return options;
}

/** A handle on an enqueued task. */
export class Task<R = unknown> {
  constructor(
    readonly queue: Queue<unknown, R>,
    readonly id: string,
    /** False when the enqueue returned an existing task (same id, or a live task with the same dedupeKey). */
    readonly created: boolean,
    /** @internal Set when this process created it while listening for results (results.ts); used once. */
    private sent?: SentMark,
  ) {}

  /**
   * Resolves with the handler's result once the task completes. Rejects with
   * TaskFailedError, TaskCancelledError, TaskNotFoundError or WaitTimeoutError.
   */
  result(options?: ResultOptions): Promise<R> {
    // The mark is good for the first wait only: its outcome may be spent by then.
    const sent = this.sent;
    this.sent = undefined;
    return this.queue.result(this.id, options, sent);
  }
}

export type EnqueueItem<P> = { payload: P } & TaskOptions;

export interface TaskCounts {
  waiting: number;
  delayed: number;
  active: number;
  completed: number;
  failed: number;
  cancelled: number;
  paused: boolean;
}

/** A live worker, as its heartbeat describes it. Times are epoch ms. */
export interface WorkerInfo {
  id: string;
  queue: string;
  host: string;
  pid: number;
  concurrency: number;
  /** Handlers running at the last heartbeat. */
  running: number;
  /** Ids of the tasks it held then. */
  tasks: string[];
  leaseMs: number;
  startedAt: number;
  heartbeatAt: number;
}

/** Tasks that finished in one minute (`minute` = epoch ms / 60,000, floored). */
export interface ThroughputPoint {
  minute: number;
  completed: number;
  failed: number;
}

export class Queue<P = unknown, R = unknown> {
  readonly name: string;
  readonly options: ResolvedQueueOptions;
  readonly keys: QueueKeys;
  private readonly connection: OwnedClient;
  private readonly results: ResultWaiter;
  private taskEvents: TaskEvents<P, R> | undefined;
  private registered: Promise<unknown> | undefined;
  /** Single enqueues waiting for this tick's flush (see flushCoalesced). */
  private coalescing: { encoded: EncodedTask; resolve(task: Task<R>): void; reject(error: unknown): void }[] | undefined;
  private closed = false;
  /** Result waits and task watches running now (see `busy`). */
  private uses = 0;

  constructor(name: string, options?: QueueOptions) {
    this.name = validateName('queue', name);
    this.options = resolveQueueOptions(options);
    this.keys = new QueueKeys(this.options.prefix, this.name);
    this.connection = openClient(this.options.connection);
    // Commands report their own failures to callers; connection errors in between are
    // retried by ioredis and need no listener of their own.
    if (this.connection.owned) this.connection.client.on('error', () => {});
    defineScripts(this.connection.client);
    this.results = new ResultWaiter(this.name, this.keys, this.connection.client, () => this.events);
  }

  /** The command client (shared with the admin layer). */
  get client() {
    return this.connection.client;
  }

  /** Adds one task. Resolves once it is in Redis. */
  async enqueue(payload: P, options?: TaskOptions): Promise<Task<R>> {
    this.assertOpen();
    // With a capacity, each enqueue is its own atomic check: it is never batched with others.
    if (this.options.maxWaiting !== undefined) {
      const [task] = await this.enqueueMany([{ ...options, payload }]);
      return task!;
    }
    const encoded = this.encodeTask(payload, options);
    return new Promise<Task<R>>((resolve, reject) => {
      if (!this.coalescing) {
        this.coalescing = [];
        queueMicrotask(() => this.flushCoalesced());
      }
      this.coalescing.push({ encoded, resolve, reject });
    });
  }

  /**
   * Sends the single enqueues made since the last flush as one batch: callers that each
   * await their own enqueue (a web server under load) share round trips and script calls.
   * Each still gets its own task, in call order, as if enqueued one after another.
   */
  private flushCoalesced(): void {
    const pending = this.coalescing ?? [];
    this.coalescing = undefined;
    this.sendEnqueues(pending.map((item) => item.encoded)).then(
      ({ tasks }) => pending.forEach((item, index) => item.resolve(tasks[index]!)),
      (error: unknown) => pending.forEach((item) => item.reject(error)),
    );
  }

  /**
   * Adds many tasks: one script call per chunk of 1,000, all chunks pipelined. Each chunk
   * is atomic. With `maxWaiting`, a chunk that does not fit is rejected whole with
   * QueueFullError, whose `enqueued` lists the ids accepted from other chunks.
   */
  async enqueueMany(items: readonly EnqueueItem<P>[]): Promise<Task<R>[]> {
    this.assertOpen();
    if (!Array.isArray(items)) throw new ValidationError('enqueueMany takes an array of { payload, ...options }');
    const encoded = items.map((item, index) => {
      if (item === null || typeof item !== 'object' || !('payload' in item)) {
        throw new ValidationError(`item ${index} has no payload: pass { payload, ...options }`);
      }
      try {
        // Copying the options out only when there are any (most bulk items are bare payloads).
        return this.encodeTask(item.payload, hasOptions(item) ? withoutPayload(item) : undefined);
      } catch (error) {
        if (items.length > 1 && error instanceof Error) error.message = `item ${index}: ${error.message}`;
        throw error;
      }
    });
    const { tasks, full } = await this.sendEnqueues(encoded);
    if (full) {
      throw new QueueFullError(this.name, this.options.maxWaiting ?? 0, tasks.map((task) => task.id));
    }
    return tasks;
  }

  /** Runs the enqueue script over encoded tasks, one call per chunk, all pipelined. */
  private async sendEnqueues(encoded: EncodedTask[]): Promise<{ tasks: Task<R>[]; full: boolean }> {
    this.register();
    const keys = [this.keys.meta, this.keys.delayed, this.keys.priorities, this.keys.wake];
    const maxWaiting = this.options.maxWaiting === undefined ? '' : String(this.options.maxWaiting);
    const sent = this.results.mark(); // before anything is sent
    const calls: Promise<unknown>[] = [];
    const short: boolean[] = [];
    for (let start = 0; start < encoded.length; start += ENQUEUE_CHUNK) {
      const chunk = encoded.slice(start, start + ENQUEUE_CHUNK);
      // A chunk of bare payloads goes as just those (enqueue.lua's short form): a tenth of
      // the arguments to encode, send and parse.
      const payloadsOnly = chunk.every((task) => typeof task === 'string');
      short.push(payloadsOnly);
      const args = payloadsOnly
        ? ['p', ...(chunk as string[])]
        : ['f', ...chunk.flatMap((task) => (typeof task === 'string' ? fullForm(task) : task))];
      calls.push(runScript(this.client, 'enqueue', keys, [this.keys.base, maxWaiting, ...args]));
    }
    const replies = (await this.call(Promise.all(calls))) as (string | number)[][];
    const tasks: Task<R>[] = [];
    let full = false;
    replies.forEach((reply, chunk) => {
      if (Number(reply[0]) === Status.QUEUE_FULL) {
        full = true;
        return;
      }
      if (short[chunk]) {
        // `count` new tasks with consecutive generated ids from `first`.
        const first = Number(reply[1]);
        for (let n = 0; n < Number(reply[2]); n++) tasks.push(new Task<R>(this as Queue<unknown, R>, String(first + n), true, sent));
        return;
      }
      for (let i = 1; i < reply.length; i += 2) {
        const id = String(reply[i]);
        const created = Number(reply[i + 1]) === 1;
        // No mark for an existing task (same id or dedupe key: it may have finished before
        // this enqueue) nor for a caller's id (see results.ts): their waits read the task.
        tasks.push(new Task<R>(this as Queue<unknown, R>, id, created, created && GENERATED_ID.test(id) ? sent : undefined));
      }
    });
    return { tasks, full };
  }

  /** Everything stored about a task, or null if there is no such task (any more). */
  async getTask(id: string): Promise<TaskInfo<P, R> | null> {
    this.assertOpen();
    validateTaskId(id);
    const hash = await this.call(this.client.hgetall(this.keys.task(id)));
    const task = decodeTask<P, R>(this.name, id, hash);
    if (task) await this.attachHolders([task]);
    return task;
  }

  /** A handle on an existing task, to await its result. */
  task(id: string): Task<R> {
    validateTaskId(id);
    return new Task<R>(this as Queue<unknown, R>, id, false);
  }

  /** Awaits a task's result by id; see Task.result. */
  result(id: string, options: ResultOptions = {}, /** @internal */ sent?: SentMark): Promise<R> {
    this.assertOpen();
    validateTaskId(id);
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs < 0)) {
      throw new ValidationError(`timeoutMs must be a whole number of ms >= 0, got ${JSON.stringify(timeoutMs)}`);
    }
    this.uses++;
    return (this.call(this.results.wait(id, timeoutMs, sent)) as Promise<R>).finally(() => this.uses--);
  }

  /** Whether results are awaited or tasks watched through this Queue now (a cache must not close it). */
  get busy(): boolean {
    return this.uses > 0;
  }

  /** State changes of this queue's tasks, from one subscription opened on first use. */
  get events(): TaskEvents<P, R> {
    this.assertOpen();
    this.taskEvents ??= new TaskEvents<P, R>(
      this.name,
      { outcomes: this.keys.events, progress: this.keys.progress },
      () => subscribers.acquire(this.options.connection),
      (id) => this.getTask(id),
    );
    return this.taskEvents;
  }

  /**
   * The task each time it is seen in a new state, starting with its current one, until it
   * is final or removed (see task-events.ts). Throws TaskNotFoundError if it does not exist.
   */
  watchTask(id: string, options?: WatchOptions): AsyncGenerator<TaskInfo<P, R>, void, undefined> {
    validateTaskId(id);
    return this.counted(this.events.watch(id, options));
  }

  /** Counts a watch as a use of this Queue from its start to its end (see `busy`). */
  private async *counted<T>(watch: AsyncGenerator<T, void, undefined>): AsyncGenerator<T, void, undefined> {
    this.uses++;
    try {
      yield* watch;
    } finally {
      this.uses--;
    }
  }

  /** One consistent snapshot of the queue's sizes. */
  async counts(): Promise<TaskCounts> {
    this.assertOpen();
    const k = this.keys;
    const keys = [k.meta, k.priorities, k.delayed, k.active, k.completed, k.failed, k.cancelled];
    const reply = (await this.call(runScript(this.client, 'counts', keys, [k.base]))) as number[];
    const [waiting = 0, delayed = 0, active = 0, completed = 0, failed = 0, cancelled = 0, paused = 0] = reply;
    return { waiting, delayed, active, completed, failed, cancelled, paused: paused === 1 };
  }

  /** Stops workers from claiming this queue's tasks; running tasks go on. */
  async pause(): Promise<void> {
    await this.setPaused(true);
  }

  async resume(): Promise<void> {
    await this.setPaused(false);
  }

  /** Ends a waiting, delayed or active task as cancelled. */
  async cancel(id: string): Promise<void> {
    const k = this.keys;
    const { count, maxAgeMs } = this.options.retention.failed;
    await this.admin('cancel', id, [k.delayed, k.active, k.cancelled], [count, maxAgeMs], 'waiting, delayed or active');
  }

  /** Puts a failed or cancelled task back in line with a fresh set of attempts. */
  async retry(id: string): Promise<void> {
    await this.admin('retry', id, [this.keys.failed, this.keys.cancelled], [], 'failed or cancelled');
  }

  /** Deletes a task in any state. */
  async remove(id: string): Promise<void> {
    const k = this.keys;
    await this.admin('remove', id, [k.delayed, k.active, k.completed, k.failed, k.cancelled], [], 'existing');
  }

  /**
   * Tasks in one state, newest first for finished states, next-to-run first for waiting
   * and delayed. For admin views: each call reads up to `limit` task hashes.
   */
  async list(state: TaskState, { offset = 0, limit = 50 }: { offset?: number; limit?: number } = {}): Promise<TaskInfo<P, R>[]> {
    this.assertOpen();
    if (!TASK_STATES.includes(state)) throw new ValidationError(`unknown state ${JSON.stringify(state)}: use one of ${TASK_STATES.join(', ')}`);
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new ValidationError('offset must be a whole number >= 0 and limit one from 1 to 1000');
    }
    const ids = await this.call(this.listIds(state, offset, limit));
    const pipeline = this.client.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.task(id));
    const replies = (await this.call(pipeline.exec())) ?? [];
    const tasks = ids.flatMap((id, index) => {
      const task = decodeTask<P, R>(this.name, id, (replies[index]?.[1] ?? {}) as Record<string, string>);
      return task ? [task] : [];
    });
    await this.attachHolders(tasks);
    return tasks;
  }

  /**
   * Retries every failed task (up to `limit`, default 10,000), oldest first. Returns the ids
   * put back in line; tasks that changed state meanwhile are skipped.
   */
  async retryAllFailed({ limit = 10_000 }: { limit?: number } = {}): Promise<string[]> {
    this.assertOpen();
    const ids = (await this.call(this.client.lrange(this.keys.failed, -limit, -1))).reverse();
    const retried: string[] = [];
    for (const id of ids) {
      try {
        await this.retry(id);
        retried.push(id);
      } catch (error) {
        // Removed, trimmed or retried by someone else since the read: nothing to do for it.
        if (!(error instanceof InvalidStateError || error instanceof TaskNotFoundError)) throw error;
      }
    }
    return retried;
  }

  /**
   * Tasks finished per minute over the last `minutes` (default 60, at most 1,440), oldest
   * first, from counters the scripts keep in Redis: the history survives restarts of
   * everything but Redis. Minutes are epoch minutes on the Redis server's clock.
   */
  async throughput({ minutes = 60 }: { minutes?: number } = {}): Promise<ThroughputPoint[]> {
    this.assertOpen();
    return this.call(
      readMinuteCounts(this.client, (hour) => this.keys.stats(hour), validateMinutes(minutes), (minute, counts) => ({
        minute,
        completed: counts.get(`${minute}:completed`) ?? 0,
        failed: counts.get(`${minute}:failed`) ?? 0,
      })),
    );
  }

  /** Workers that sent a heartbeat within their lease time; stale records are dropped. */
  async workers(): Promise<WorkerInfo[]> {
    this.assertOpen();
    const [records, time] = await this.call(Promise.all([this.client.hgetall(this.keys.workers), this.client.time()]));
    const nowMs = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    const live: WorkerInfo[] = [];
    const stale: string[] = [];
    for (const [id, json] of Object.entries(records)) {
      const info = JSON.parse(json) as WorkerInfo;
      if (nowMs - info.heartbeatAt > info.leaseMs) stale.push(id);
      else live.push(info);
    }
    if (stale.length) await this.call(this.client.hdel(this.keys.workers, ...stale));
    return live.sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Moves the items of a plain Redis list (filled by legacy `LPUSH` producers) into this
   * queue as tasks, oldest first, and keeps doing so as items arrive, until the returned
   * bridge is closed. Each item becomes a task whose payload is the item's string; an item
   * is always either still in the list or a task. See docs/broadcast.md for its limits.
   */
  adoptList(listKey: string, options?: AdoptListOptions): Promise<ListBridge> {
    this.assertOpen();
    return adoptList(this as Queue, listKey, options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.results.close(), this.taskEvents?.close()]);
    await closeClient(this.connection);
  }

  // ---- internals ----

  /**
   * Names the lease holder of active tasks from the workers' heartbeats (which list the
   * tasks each holds): the hot path keeps no holder in the task hash.
   */
  private async attachHolders(tasks: TaskInfo<P, R>[]): Promise<void> {
    const active = tasks.filter((task) => task.state === 'active');
    if (!active.length) return;
    const holders = new Map<string, string>();
    for (const worker of await this.workers()) for (const id of worker.tasks) holders.set(id, worker.id);
    for (const task of active) {
      const holder = holders.get(task.id);
      if (holder) task.worker = holder;
    }
  }

  private async listIds(state: TaskState, offset: number, limit: number): Promise<string[]> {
    const k = this.keys;
    const end = offset + limit - 1;
    switch (state) {
      case 'delayed':
        return this.client.zrange(k.delayed, offset, end);
      case 'active':
        // Deadlines only: the +inf member is the encoding sentinel (lib/common.lua).
        return this.client.zrange(k.active, '-inf', '(+inf', 'BYSCORE', 'LIMIT', offset, limit);
      case 'completed':
      case 'failed':
      case 'cancelled':
        return this.client.lrange(k[state], offset, end);
      case 'waiting': {
        // Levels in claim order; within a level the next task is at the right end.
        const levels = await this.client.zrange(k.priorities, 0, -1);
        const ids: string[] = [];
        let skip = offset;
        for (const level of levels) {
          const all = (await this.client.lrange(`${k.base}waiting:${level}`, 0, -1)).reverse();
          const take = all.slice(skip, skip + limit - ids.length);
          skip = Math.max(0, skip - all.length);
          ids.push(...take);
          if (ids.length >= limit) break;
        }
        return ids;
      }
    }
  }

  /** A task as enqueue.lua takes it: its 9 values, or only its payload JSON when every option is the default. */
  private encodeTask(payload: unknown, input: unknown): EncodedTask {
    const json = encodeJson(payload, 'payload', this.options.maxPayloadBytes);
    // Most tasks come with no options: nothing to validate (bulk enqueues).
    if (this.options.defaultTaskOptions === undefined && isEmptyObject(input)) return json;
    const options = isEmptyObject(input) ? {} : parseTaskOptions(input);
    const defaults = this.options.defaultTaskOptions ?? {};
    if (options.delayMs !== undefined && options.runAt !== undefined) {
      throw new ValidationError('invalid task options: set delayMs or runAt, not both');
    }
    let id = '';
    if (options.id !== undefined) {
      id = validateTaskId(options.id);
      if (GENERATED_ID.test(id)) throw new ValidationError(`invalid task id "${id}": ids of digits only are reserved for generated ids`);
    }
    const runAt = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
    if (runAt !== undefined && !Number.isFinite(runAt)) throw new ValidationError('invalid task options: runAt is not a valid date');
    const backoff = options.backoff ?? defaults.backoff;
    const timeoutMs = options.timeoutMs ?? defaults.timeoutMs;
    return [
      id,
      json,
      String(options.priority ?? defaults.priority ?? 0),
      String(options.delayMs ?? 0),
      runAt === undefined ? '' : String(runAt),
      String(options.attempts ?? defaults.attempts ?? DEFAULT_ATTEMPTS),
      backoff ? JSON.stringify(backoff) : '',
      timeoutMs === undefined ? '' : String(timeoutMs),
      options.dedupeKey ?? '',
    ];
  }

  private async admin(
    action: 'cancel' | 'retry' | 'remove',
    id: string,
    keys: string[],
    extra: number[],
    allowed: string,
  ): Promise<void> {
    this.assertOpen();
    validateTaskId(id);
    const reply = (await this.call(runScript(this.client, action, keys, [this.keys.base, id, ...extra]))) as [number, string?];
    checkStatus(Number(reply[0]), { queue: this.name, taskId: id, action, allowed, state: stateFromCode(reply[1]) ?? reply[1] });
  }

  private async setPaused(paused: boolean): Promise<void> {
    this.assertOpen();
    this.register();
    await this.call(runScript(this.client, 'set-paused', [this.keys.meta, this.keys.wake], [this.keys.base, paused ? 1 : 0]));
  }

  /** Records the queue's name in the prefix's registry, once per Queue object. */
  private register(): void {
    this.registered ??= this.client.sadd(queuesKey(this.options.prefix), this.name).catch(() => {
      this.registered = undefined; // try again with the next call
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError(`queue "${this.name}"`);
  }

  /** Turns connection failures into RedisUnavailableError; script and reply errors pass. */
  private call<T>(promise: Promise<T>): Promise<T> {
    return orUnavailable(promise);
  }
}
