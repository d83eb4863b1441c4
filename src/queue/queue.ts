/**
 * The producer side of a work queue, and its admin actions.
 *
 * Responsible for: creating tasks in batches (one script call per chunk, single enqueues
 * coalesced per tick; task-encoding.ts validates them before anything reaches Redis),
 * handing out `Task` handles whose results can be awaited (results.ts), and the admin
 * actions (counts, pause, cancel, retry, remove); its reads are queue-reads.ts's, its
 * writes of settings, pause and group settings settings-writer.ts's. It never runs
 * handlers: that is the Worker's job.
 */
import { resolveQueueOptions, validateName, validateTaskId, type QueueOptions, type ResolvedQueueOptions, type TaskOptions } from '../config.js';
import {
  ClosedError,
  InvalidStateError,
  PartitionsDisagreeError,
  QueueFullError,
  TaskNotFoundError,
  ValidationError,
} from '../errors.js';
import { closeClient, openClient, orUnavailable, settledWithin, type OwnedClient } from '../redis/connection.js';
import { GROUP_FIELDS, QueueKeys, queuesKey, STATE_CODES, TASK_FIELDS } from '../redis/keys.js';
import * as scripts from '../redis/queue-scripts.js';
import { runReplicated, shortfall } from '../redis/durability.js';
import { runScript, type ScriptCall } from '../redis/scripts.js';
import { checkStatus } from '../redis/status.js';
import type { TaskCounts, ThroughputPoint, WorkerInfo } from './queue-reads.js';
import { QueueLanes, type Lane } from './queue-lanes.js';
import { markOfId, routeBatch, routeOf, type Layout } from './partitions.js';
import {
  decodeSettings,
  groupFields,
  parseGroupLimits,
  parseSettingsPatch,
  settingsFields,
  type GroupInfo,
  type GroupLimitsPatch,
  type QueueSettings,
  type SettingsPatch,
} from './settings.js';
import { ScheduleBook, type ScheduleChangeResult } from './schedule-book.js';
import { SettingsWriter } from './settings-writer.js';
import type { ScheduleDefinition, ScheduleInfo } from './schedules.js';
import { stateFromCode, type TaskState } from './states.js';
import { encodeItems, encodeTask, GENERATED_ID, withTrace, type EnqueueItem } from './task-encoding.js';
import { currentTraceparent, loadTracing, tracingSettled } from '../tracing.js';
import type { FollowLogsOptions, TaskLogs } from './task-logs.js';
import { adoptList, type AdoptListOptions, type ListBridge } from './list-bridge.js';
import type { SentMark } from './results.js';
import type { TaskEvents, WatchOptions } from './task-events.js';
import type { TaskInfo } from './task.js';
import { FlowHandOver, parseRef } from '../flows/hand-over.js';

/** Tasks per enqueue script call: big enough to amortize the round trip, small enough to
 * keep each script call short for other clients. */
const ENQUEUE_CHUNK = 1000;
/** How long close() lets enqueues accepted before it go out. */
const CLOSE_SEND_MS = 10_000;
/** Times a batch is routed again after the queue's partitions changed under it. */
const REROUTES = 8;
export interface ResultOptions {
  /** Reject with WaitTimeoutError after this many ms. Default: wait as long as it takes. */
  timeoutMs?: number;
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

  /** The task each time it is seen in a new state or with new progress; see Queue.watchTask. */
  watch(options?: WatchOptions): AsyncGenerator<TaskInfo<unknown, R>, void, undefined> {
    return this.queue.watchTask(this.id, options);
  }
}

export type { EnqueueItem } from './task-encoding.js';

export type { PartitionCounts, TaskCounts, ThroughputPoint, WorkerInfo } from './queue-reads.js';

export class Queue<P = unknown, R = unknown> {
  readonly name: string;
  readonly options: ResolvedQueueOptions;
  readonly keys: QueueKeys;
  private readonly connection: OwnedClient;
  /** The queue's partitions (one unless configured): keys, reads, result waiters, events. */
  private readonly lanes: QueueLanes<P, R>;
  private readonly book: ScheduleBook;
  /** Writes settings, pause and group settings to every partition. */
  private readonly writer: SettingsWriter<P, R>;
  /** Flow cascades of the admin actions (src/flows/hand-over.ts). */
  private readonly flows: FlowHandOver;
  /**
   * The partition count producers route by, as last read: not a copy that can disagree, since
   * the enqueue script refuses a batch routed by another count than the queue's (and the
   * batch is routed again on the count read then).
   */
  private routing: Layout | undefined;
  /** The next partition to take a batch that any partition may take. */
  private rotation = 0;
  private registered: Promise<unknown> | undefined;
  /** Single enqueues waiting for the next flush (see flushCoalesced). */
  private coalescing: { encoded: scripts.EncodedTask; resolve(task: Task<R>): void; reject(error: unknown): void }[] | undefined;
  /** A flush is queued (a microtask), or a batch of single enqueues is on its way to Redis. */
  private flushQueued = false;
  private flushing = false;
  private inFlight: Promise<unknown> | undefined;
  /** Enqueues accepted but not queued yet (waiting for the tracing API to load). */
  private accepting = 0;
  private closed = false;
  /** Result waits and task watches running now (see `busy`). */
  private uses = 0;

  constructor(name: string, options?: QueueOptions) {
    this.name = validateName('queue', name);
    this.options = resolveQueueOptions(options);
    this.connection = openClient(this.options.connection);
    // Commands report their own failures to callers; connection errors in between are
    // retried by ioredis and need no listener of their own.
    if (this.connection.owned) this.connection.client.on('error', () => {});
    this.lanes = new QueueLanes<P, R>(this.name, this.options.prefix, {
      client: () => this.client,
      connection: this.options.connection,
      getTask: (id) => this.getTask(id),
    });
    this.keys = this.lanes.base.keys;
    this.flows = new FlowHandOver(() => this.client, this.options.prefix);
    this.book = new ScheduleBook(this.name, this.keys, () => this.client, this.options.maxPayloadBytes);
    this.writer = new SettingsWriter<P, R>(this.name, this.keys, this.lanes, () => this.client);
    void loadTracing();
  }

  /** The command client (shared with the admin layer). */
  get client() {
    return this.connection.client;
  }

  /** Adds one task. Resolves once it is in Redis. */
  async enqueue(payload: P, options?: TaskOptions): Promise<Task<R>> {
    this.assertOpen();
    if (!tracingSettled()) {
      // Accepted already: a close() meanwhile waits for it to be sent.
      this.accepting++;
      await loadTracing().finally(() => this.accepting--); // the caller's context is still current after it
    }
    const encoded = withTrace(encodeTask(payload, options, this.options), currentTraceparent());
    return new Promise<Task<R>>((resolve, reject) => {
      (this.coalescing ??= []).push({ encoded, resolve, reject });
      this.queueFlush();
    });
  }

  /** A flush at the end of this tick, unless a batch is on its way (its reply queues the next). */
  private queueFlush(): void {
    if (this.flushQueued || this.flushing) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flushCoalesced());
  }

  /**
   * Sends the single enqueues made since the last flush as one batch: callers that each
   * await their own enqueue share round trips and script calls. One batch is on its way at
   * a time (a group commit): enqueues made while it is, by other requests of a web server
   * under load, in other ticks, wait for its reply and go together in the next. An enqueue
   * made while none is on its way goes at the end of its tick, so a lone one waits for
   * nothing. Each still gets its own task, in call order, as if enqueued one after another.
   * A batch that does not fit the queue's capacity (maxWaiting) is sent again one by one,
   * so each enqueue is its own check, as if alone.
   */
  private flushCoalesced(): void {
    this.flushQueued = false;
    // One script call at most, so a batch is written whole or not at all; the rest go next.
    const pending = (this.coalescing ?? []).splice(0, ENQUEUE_CHUNK);
    if (!this.coalescing?.length) this.coalescing = undefined;
    if (!pending.length) return;
    this.flushing = true;
    const sent = (this.inFlight = this.sendBatch(pending));
    // The callers' own continuations (often another enqueue) run before the next batch goes.
    void sent.finally(() => {
      this.flushing = false;
      if (this.coalescing?.length) this.queueFlush();
    });
  }

  /**
   * One batch of single enqueues (one script call: all written or none). Each caller hears
   * of its own task only, a replication shortfall included.
   */
  private sendBatch(pending: NonNullable<typeof this.coalescing>): Promise<unknown> {
    const settle = (item: (typeof pending)[number], task: Task<R>, acknowledged: number | undefined) => {
      const { durability } = this.options;
      const error = durability && acknowledged !== undefined ? shortfall(durability, acknowledged, task.created ? [task.id] : []) : undefined;
      if (error) item.reject(error);
      else item.resolve(task);
    };
    // A single enqueue's error lists no task of the other callers.
    const alone = (error: unknown) => (error instanceof PartitionsDisagreeError ? new PartitionsDisagreeError(this.name) : error);
    const one = (item: (typeof pending)[number]) =>
      this.sendEnqueues([item.encoded]).then(({ placed, full, failed, acknowledged }) => {
        if (placed[0]) settle(item, placed[0], acknowledged);
        else item.reject(failed.has(0) ? alone(failed.get(0)) : new QueueFullError(this.name, full?.maxWaiting ?? 0));
      });
    return this.sendEnqueues(pending.map((item) => item.encoded)).then(
      async ({ placed, full, failed, acknowledged }) => {
        // Each caller hears of its own task: written, refused by a failed call, or refused as
        // full (nothing of its call written: on a partitioned queue, other partitions' calls may
        // have written theirs).
        const refused: (typeof pending)[number][] = [];
        pending.forEach((item, index) => {
          const task = placed[index];
          if (task) settle(item, task, acknowledged);
          else if (failed.has(index)) item.reject(alone(failed.get(index)));
          else refused.push(item);
        });
        if (refused.length === 1) refused[0]!.reject(new QueueFullError(this.name, full?.maxWaiting ?? 0));
        // Refused as full (nothing of theirs written): each one again, in order, as if alone.
        else for (const item of refused) await one(item).catch((error: unknown) => item.reject(error));
      },
      (error: unknown) => pending.forEach((item) => item.reject(error)),
    );
  }

  /**
   * Adds many tasks: one script call per chunk of 1,000, all chunks pipelined. Each chunk
   * is atomic. With a capacity (the queue's maxWaiting setting), a chunk that does not fit
   * is rejected whole with QueueFullError, whose `enqueued` lists the ids accepted from
   * other chunks.
   */
  async enqueueMany(items: readonly EnqueueItem<P>[]): Promise<Task<R>[]> {
    this.assertOpen();
    if (!tracingSettled()) await loadTracing();
    const encoded = withTrace(encodeItems(items, this.options), currentTraceparent());
    const { placed, full, failed, acknowledged } = await this.sendEnqueues(encoded);
    if (failed.size) throw failed.values().next().value;
    const tasks = placed.filter((task) => task !== undefined);
    const { durability } = this.options;
    const error = durability && acknowledged !== undefined ? shortfall(durability, acknowledged, tasks.filter((task) => task.created).map((task) => task.id)) : undefined;
    if (error) throw error;
    if (full) throw new QueueFullError(this.name, full.maxWaiting, tasks.map((task) => task.id));
    return tasks;
  }

  /**
   * Runs the enqueue script over encoded tasks, one call per chunk, all pipelined (on a
   * partitioned queue, each partition's share: src/queue/partitions.ts routes them); with
   * the durability option, says how many replicas acknowledged (the caller judges it).
   */
  private async sendEnqueues(encoded: scripts.EncodedTask[]): Promise<{
    /** Each task's handle, by its index; undefined where its call was refused or failed. */
    placed: (Task<R> | undefined)[];
    /** Set when a call was refused as full (nothing of that call written). */
    full: { maxWaiting: number } | undefined;
    /** The error of each task whose call failed, by index (its outcome unknown). */
    failed: Map<number, unknown>;
    acknowledged?: number;
  }> {
    this.register();
    const placed = new Array<Task<R> | undefined>(encoded.length);
    const failed = new Map<number, unknown>();
    let full: { maxWaiting: number } | undefined;
    let acknowledged: number | undefined;
    let todo = encoded.map((_, index) => index);
    /** Tasks a full partition refused, sent again shared out over every partition (once). */
    let spread = false;
    for (let round = 0; todo.length; round++) {
      if (round === REROUTES) {
        // Nothing of these was written: each fails, and the error lists what was.
        const error = new PartitionsDisagreeError(this.name, placed.flatMap((task) => (task ? [task.id] : [])));
        for (const index of todo) failed.set(index, error);
        break;
      }
      if (round > 0 && !spread) await new Promise((resolve) => setTimeout(resolve, 5 * round)); // a configure under way finishes
      const layout = (this.routing ??= await this.call(this.lanes.layout()));
      const again: number[] = [];
      const spreading = spread;
      spread = false;
      await Promise.all(
        [...this.routeBatch(layout, todo, encoded, spreading)].map(async ([mark, indexes]) => {
          const lane = this.lanes.lane(mark);
          const sent = lane.results.mark(); // before anything is sent
          const chunks: number[][] = [];
          for (let start = 0; start < indexes.length; start += ENQUEUE_CHUNK) chunks.push(indexes.slice(start, start + ENQUEUE_CHUNK));
          const calls = chunks.map((chunk) => scripts.enqueue(lane.keys, { tasks: chunk.map((index) => encoded[index]!), partitions: layout.partitions }));
          const { durability } = this.options;
          let replies: scripts.EnqueueReply[];
          try {
            if (durability) {
              const replicated = await this.call(runReplicated(this.client, calls, durability));
              replies = replicated.replies;
              acknowledged = Math.min(acknowledged ?? Infinity, replicated.acknowledged);
            } else {
              replies = await this.call(Promise.all(calls.map((call) => runScript(this.client, call))));
            }
          } catch (error) {
            for (const index of indexes) failed.set(index, error);
            return;
          }
          replies.forEach((reply, c) => {
            const chunk = chunks[c]!;
            if (reply.layoutChanged !== undefined) again.push(...chunk);
            else if (reply.full) {
              // A partition holds its share of the capacity: tasks any partition may take try
              // every partition before the batch is called full.
              if (layout.partitions > 1 && !spreading && chunk.every((index) => routeOf(encoded[index]!, layout.partitions) === undefined)) {
                spread = true;
                again.push(...chunk);
              } else full = { maxWaiting: reply.maxWaiting };
            } else {
              reply.tasks.forEach(({ id, created }, i) => {
                // No mark for an existing task (same id or dedupe key: it may have finished before
                // this enqueue) nor for a caller's id (see results.ts): their waits read the task.
                placed[chunk[i]!] = new Task<R>(this as Queue<unknown, R>, id, created, created && GENERATED_ID.test(id) ? sent : undefined);
              });
            }
          });
        }),
      );
      if (again.length && !spread) this.routing = undefined; // read the count again
      todo = again.sort((a, b) => a - b);
    }
    // A partition answers with its share of the capacity; the caller set the queue's.
    if (full && (this.routing?.partitions ?? 1) > 1) full = { maxWaiting: (await this.call(this.settings())).maxWaiting ?? full.maxWaiting };
    return { placed, full, failed, acknowledged };
  }

  /** Routes a batch (partitions.ts), the next partition in turn taking what any may take. */
  private routeBatch(layout: Layout, indexes: number[], encoded: scripts.EncodedTask[], spread: boolean): Map<string, number[]> {
    const { byMark, rotation } = routeBatch(layout, indexes, (index) => encoded[index]!, this.rotation, spread);
    this.rotation = rotation;
    return byMark;
  }

  /** Everything stored about a task, or null if there is no such task (any more). */
  async getTask(id: string): Promise<TaskInfo<P, R> | null> {
    this.assertOpen();
    validateTaskId(id);
    return this.call(this.lanes.locate(id).then((lane) => lane.reads.task(id)));
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
    // Started at once where the partition is known (a wait must be listening before the
    // caller's next step can finish the task); a caller's id on a partitioned queue is looked up.
    const known = this.lanes.known(id, this.routing);
    const waited = known
      ? known.results.wait(id, timeoutMs, sent).catch(async (error: unknown) => {
          // A queue partitioned since this process last read its layout: look it up.
          if (!(error instanceof TaskNotFoundError) || markOfId(id) !== undefined || GENERATED_ID.test(id)) throw error;
          const lane = await this.lanes.locate(id);
          if (lane === known) throw error;
          return lane.results.wait(id, timeoutMs);
        })
      : this.lanes.locate(id).then((lane) => lane.results.wait(id, timeoutMs, sent));
    return (this.call(waited) as Promise<R>).finally(() => this.uses--);
  }

  /** Whether results are awaited or tasks watched through this Queue now (a cache must not close it). */
  get busy(): boolean {
    return this.uses > 0;
  }

  /**
   * State changes of this queue's tasks, from one subscription opened on first use. On a
   * partitioned queue, those of its first partition (`partitionEvents` gives each one's).
   */
  get events(): TaskEvents<P, R> {
    this.assertOpen();
    return this.lanes.base.events;
  }

  /**
   * The state changes of every partition's tasks (one subscription each; one for an
   * unpartitioned queue), each with its partition's mark ('' for the queue's own layout).
   */
  async partitionEvents(): Promise<{ mark: string; events: TaskEvents<P, R> }[]> {
    this.assertOpen();
    return this.lanes.every(await this.call(this.lanes.layout())).map((lane) => ({ mark: lane.mark, events: lane.events }));
  }

  /**
   * The task each time it is seen in a new state, starting with its current one, until it
   * is final or removed (see task-events.ts). Throws TaskNotFoundError if it does not exist.
   */
  watchTask(id: string, options?: WatchOptions): AsyncGenerator<TaskInfo<P, R>, void, undefined> {
    validateTaskId(id);
    return this.counted(this.inLane(id, (lane) => lane.events.watch(id, options)));
  }

  /** A generator of the partition that holds task `id`. */
  private async *inLane<T>(id: string, generator: (lane: Lane<P, R>) => AsyncGenerator<T, void, undefined>): AsyncGenerator<T, void, undefined> {
    this.assertOpen();
    yield* generator(await this.call(this.lanes.locate(id)));
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

  /**
   * A task's log (the lines its handlers wrote with `context.log()`), oldest first, with
   * how many older lines its bounds dropped. Throws TaskNotFoundError if there is no such task.
   */
  async logs(id: string): Promise<TaskLogs> {
    this.assertOpen();
    validateTaskId(id);
    const read = await this.call(this.lanes.locate(id).then((lane) => lane.logReader.read(id)));
    if (!read) throw new TaskNotFoundError(this.name, id);
    return { dropped: read.dropped, lines: read.lines };
  }

  /**
   * A task's log lines as they are written, in batches (starting with those there now),
   * until the task is final (or removed), or on abort. Throws TaskNotFoundError if there is
   * no such task.
   */
  followLogs(id: string, options: FollowLogsOptions = {}): AsyncGenerator<TaskLogs, void, undefined> {
    validateTaskId(id);
    return this.inLane(id, (lane) => lane.logReader.follow(id, lane.events.changes(id, options)));
  }

  /**
   * One consistent snapshot of the queue's sizes. A partitioned queue's are summed over its
   * partitions (each one's own snapshot), with each one's in `partitions`.
   */
  async counts(): Promise<TaskCounts> {
    this.assertOpen();
    const layout = await this.call(this.lanes.layout());
    if (layout.marks.length === 1) return this.call(runScript(this.client, scripts.counts(this.keys)));
    return this.call(this.lanes.counts(layout));
  }

  /**
   * Changes the queue's settings (capacity, retention, rate limit, concurrency, group
   * limits): kept in Redis, read by every worker at its next claim, for every process at
   * once. A patch: fields left out stay, `null` removes a limit. Resolves with the settings
   * now in force. Every bad field is refused with a ValidationError, and nothing is written.
   */
  async configure(patch: SettingsPatch): Promise<QueueSettings> {
    this.assertOpen();
    const parsed = parseSettingsPatch(patch);
    const fields = settingsFields(parsed); // it checks too: nothing is written before
    this.register();
    await this.writer.configure(parsed.partitions, fields);
    this.routing = undefined;
    return this.settings();
  }

  /** The queue's settings, with the defaults filled in. */
  async settings(): Promise<QueueSettings> {
    this.assertOpen();
    return decodeSettings(await this.call(this.client.hgetall(this.keys.settings)));
  }

  /**
   * Gives one group its own limits (concurrency, rate limit) instead of the queue's defaults
   * for every group (`settings.groups`); `null` removes the group's own value.
   */
  async configureGroup(group: string, patch: GroupLimitsPatch): Promise<void> {
    this.assertOpen();
    validateName('group', group);
    const fields = groupFields(parseGroupLimits(patch), GROUP_FIELDS.concurrency, GROUP_FIELDS.rateMax, GROUP_FIELDS.ratePerMs);
    if (!fields.length) throw new ValidationError('the group settings change is empty: give concurrency or rateLimit');
    await this.call(this.writer.configureGroup(group, fields));
  }

  /** Stops claims of one group's tasks (the others go on); running ones finish. */
  async pauseGroup(group: string): Promise<void> {
    this.assertOpen();
    validateName('group', group);
    await this.call(this.writer.configureGroup(group, [[GROUP_FIELDS.paused, '1']]));
  }

  async resumeGroup(group: string): Promise<void> {
    this.assertOpen();
    validateName('group', group);
    await this.call(this.writer.configureGroup(group, [[GROUP_FIELDS.paused, '']]));
  }

  /** Groups with waiting or active tasks, largest backlog first (a page), and how many there are. */
  async groups({ offset = 0, limit = 50 }: { offset?: number; limit?: number } = {}): Promise<{ total: number; groups: GroupInfo[] }> {
    this.assertOpen();
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new ValidationError('offset must be a whole number >= 0 and limit one from 1 to 1000');
    }
    const layout = await this.call(this.lanes.layout());
    if (layout.marks.length === 1) {
      const { total, nowMs, groups } = await this.call(runScript(this.client, scripts.listGroups(this.keys, { offset, limit })));
      return { total, groups: groups.map((row) => groupInfo(row, nowMs)) };
    }
    // Each partition's largest, merged: a group lives in one partition.
    checkMergedPage(offset, limit);
    const pages = await this.call(Promise.all(this.lanes.every(layout).map((lane) => runScript(this.client, scripts.listGroups(lane.keys, { offset: 0, limit: Math.min(1000, offset + limit) })))));
    const rows = pages.flatMap((page) => page.groups.map((row) => groupInfo(row, page.nowMs)));
    rows.sort((a, b) => b.waiting - a.waiting || a.name.localeCompare(b.name));
    return { total: pages.reduce((sum, page) => sum + page.total, 0), groups: rows.slice(offset, offset + limit) };
  }

  /**
   * Creates or changes a schedule: a task (`payload`, `options`) at every slot of a cron
   * expression (`cron`, `tz`) or every `everyMs`, created by whichever worker claims first
   * when the slot falls due, one task per slot (id `sched:<id>:<slot ms>`) however many
   * processes run. An upsert: the same definition again changes nothing (so every replica
   * may call it at start); a changed one goes on from its first slot after now. See
   * docs/semantics.md § Schedules.
   */
  async schedule(id: string, definition: ScheduleDefinition): Promise<ScheduleInfo & { change: ScheduleChangeResult['change'] }> {
    this.assertOpen();
    const { schedule, change } = await this.call(this.book.upsert(id, definition, () => this.registration()));
    return { ...schedule, change };
  }

  /** Every schedule of this queue with its definition, next run, last run and last task id; by next run. */
  async schedules(): Promise<ScheduleInfo[]> {
    this.assertOpen();
    return this.call(this.book.list());
  }

  /** One schedule, or null. */
  async getSchedule(id: string): Promise<ScheduleInfo | null> {
    this.assertOpen();
    return this.call(this.book.get(id));
  }

  /** Deletes a schedule (the tasks it created stay). Resolves whether it existed. */
  async unschedule(id: string): Promise<boolean> {
    this.assertOpen();
    return this.call(this.book.remove(id));
  }

  /** Pauses a schedule: no slot falls due until it is resumed. */
  async pauseSchedule(id: string): Promise<ScheduleInfo> {
    this.assertOpen();
    return this.call(this.book.setPaused(id, true));
  }

  /** Resumes a schedule from its first slot after now (the slots missed while paused are skipped). */
  async resumeSchedule(id: string): Promise<ScheduleInfo> {
    this.assertOpen();
    return this.call(this.book.setPaused(id, false));
  }

  /** Runs a schedule now, besides its slots (id `sched:<id>:now:<ms>`); its next slot stays. */
  async runSchedule(id: string): Promise<Task<R>> {
    this.assertOpen();
    this.register();
    return new Task<R>(this as Queue<unknown, R>, await this.call(this.book.runNow(id)), true);
  }

  /** Stops workers from claiming this queue's tasks; running tasks go on. */
  async pause(): Promise<void> {
    await this.setPaused(true);
  }

  async resume(): Promise<void> {
    await this.setPaused(false);
  }

  /** Every partition's pause (one call each: not atomic over partitions). */
  private async setPaused(paused: boolean): Promise<void> {
    this.assertOpen();
    this.register();
    await this.call(this.writer.setPaused(paused));
  }

  /**
   * Ends a waiting, delayed, active (or, in a flow, dependencies) task as cancelled. A flow
   * parent's children that have not finished are cancelled too, and their children.
   * Cancelling a flow parent already cancelled runs that cascade again (it changes nothing
   * twice) and resolves: a cascade cut short (a crash half-way) is finished by calling it
   * again. Any other task already finished is refused with an InvalidStateError.
   */
  async cancel(id: string): Promise<void> {
    try {
      await this.admin('cancel', id, (k) => scripts.cancel(k, id), 'waiting, delayed, active or dependencies');
    } catch (error) {
      const again = error instanceof InvalidStateError && error.state === 'cancelled' && (await this.call(this.client.exists((await this.lanes.locate(id)).keys.deps(id)))) === 1;
      if (!again) throw error;
    }
    await this.call(this.flows.cancelDescendants(this.name, id));
  }

  /**
   * Puts a failed or cancelled task back in line with a fresh set of attempts. A flow
   * child's parent waits for it again (a 'fail' parent its failure failed, if it never ran).
   * A flow parent that never ran waits for its children again: those that did not complete
   * are retried too, and theirs (a retry cut short is finished by calling it again).
   */
  async retry(id: string): Promise<void> {
    this.assertOpen();
    validateTaskId(id);
    await this.retryIn(await this.call(this.lanes.locate(id)), id);
  }

  /** `retry` in the partition that holds the task (located once, or read from its failed list). */
  private async retryIn(lane: Lane<P, R>, id: string): Promise<void> {
    this.assertOpen();
    await this.checkChildrenKept(lane.keys, id);
    const reply = await this.act(lane, 'retry', id, (k) => scripts.retry(k, id), 'failed or cancelled');
    await this.call(this.flows.afterRetry(this.name, id, reply.children));
  }

  /**
   * A flow parent that never ran waits for its children that did not complete again when
   * retried (retry.lua), and they are retried: one removed since (trimmed by retention) would
   * never report, and the parent would wait for good. Such a retry is refused up front. A
   * task that ran, or is not failed or cancelled, costs one HMGET here: its children record
   * is read only for a parent that never ran.
   */
  private async checkChildrenKept(keys: QueueKeys, id: string): Promise<void> {
    const [state, attempt, prior] = await this.call(this.client.hmget(keys.task(id), TASK_FIELDS.state, TASK_FIELDS.attempt, TASK_FIELDS.priorAttempts));
    if ((state !== STATE_CODES.failed && state !== STATE_CODES.cancelled) || Number(attempt ?? 0) + Number(prior ?? 0) > 0) return;
    const deps = await this.call(this.client.hgetall(keys.deps(id)));
    // `<queue>|<id>` → `<version>:<state>`: those not pending and not completed are retried.
    const retried = Object.entries(deps).flatMap(([ref, entry]) => {
      const code = entry.slice(entry.indexOf(':') + 1);
      return code !== '' && !code.startsWith(STATE_CODES.completed) ? [parseRef(ref)] : [];
    });
    const kept = await this.call(Promise.all(retried.map((child) => this.client.exists(new QueueKeys(this.keys.prefix, child.queue).task(child.id)))));
    const gone = retried.filter((_, i) => kept[i] === 0);
    if (gone.length) {
      const names = gone.slice(0, 3).map((child) => `"${child.id}" of queue "${child.queue}"`).join(', ');
      throw new InvalidStateError(id, stateFromCode(state) ?? state, 'retry', 'failed or cancelled', `its children ${names}${gone.length > 3 ? ` and ${gone.length - 3} more` : ''} are gone (past their retention), so it would wait for them for good: add the flow again`);
    }
  }

  /** Deletes a task in any state; a flow parent with its whole tree of descendants. */
  async remove(id: string): Promise<void> {
    validateTaskId(id);
    const children = await this.call(this.lanes.locate(id).then((lane) => this.client.hkeys(lane.keys.deps(id))));
    await this.admin('remove', id, (k) => scripts.remove(k, id), 'existing');
    for (const ref of children) {
      const child = parseRef(ref);
      await this.call(this.flows.removeTree(child.queue, child.id));
    }
    await this.call(this.flows.apply(this.name, [id]));
  }

  /**
   * Tasks in one state, newest first for finished states, next-to-run first for waiting
   * and delayed. For admin views: each call reads up to `limit` task hashes.
   */
  async list(state: TaskState, page: { offset?: number; limit?: number } = {}): Promise<TaskInfo<P, R>[]> {
    this.assertOpen();
    const layout = await this.call(this.lanes.layout());
    if (layout.marks.length === 1) return this.call(this.lanes.base.reads.list(state, page));
    const { offset = 0, limit = 50 } = page;
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new ValidationError('offset must be a whole number >= 0 and limit one from 1 to 1000');
    }
    checkMergedPage(offset, limit);
    return this.call(this.lanes.list(layout, state, offset, limit));
  }

  /**
   * Retries every failed task (up to `limit`, default 10,000), oldest first. Returns the ids
   * put back in line; tasks that changed state meanwhile are skipped.
   */
  async retryAllFailed({ limit = 10_000 }: { limit?: number } = {}): Promise<string[]> {
    this.assertOpen();
    const lanes = this.lanes.every(await this.call(this.lanes.layout()));
    const pages = await this.call(Promise.all(lanes.map((lane) => this.client.lrange(lane.keys.failed, -limit, -1))));
    // Each id with the partition whose list it was read from: no need to locate it again.
    const found = pages.flatMap((page, n) => page.reverse().map((id) => ({ id, lane: lanes[n]! }))).slice(0, limit);
    const retried: string[] = [];
    for (const { id, lane } of found) {
      try {
        await this.retryIn(lane, id);
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
  async throughput(options: { minutes?: number } = {}): Promise<ThroughputPoint[]> {
    this.assertOpen();
    const layout = await this.call(this.lanes.layout());
    if (layout.marks.length === 1) return this.call(this.lanes.base.reads.throughput(options));
    return this.call(this.lanes.throughput(layout, options.minutes));
  }

  /** Workers that sent a heartbeat within their lease time; stale records are dropped. */
  async workers(): Promise<WorkerInfo[]> {
    this.assertOpen();
    const layout = await this.call(this.lanes.layout());
    if (layout.marks.length === 1) return this.call(this.lanes.base.reads.workers());
    return this.call(this.lanes.workers(layout));
  }

  /**
   * Moves the items of a plain Redis list (filled by legacy `LPUSH` producers) into this
   * queue as tasks, oldest first, and keeps doing so as items arrive, until the returned
   * bridge is closed. Each item becomes a task whose payload is the item's string; an item
   * is always either still in the list or a task. See docs/broadcast.md for its limits.
   */
  adoptList(listKey: string, options?: AdoptListOptions): Promise<ListBridge> {
    this.assertOpen();
    return adoptList(this, listKey, options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Enqueues accepted before close go out first (some may wait behind a batch on its way),
    // for CLOSE_SEND_MS at most: a Redis that answers nothing must not keep the close from
    // ending (those callers then hear that the connection closed; what they sent may or may
    // not have been written, as with any failed call).
    const deadline = Date.now() + CLOSE_SEND_MS;
    while ((this.accepting > 0 || this.flushing || this.flushQueued) && Date.now() < deadline) {
      await settledWithin(Promise.resolve(this.accepting > 0 ? loadTracing() : this.inFlight), deadline - Date.now());
      await new Promise((resolve) => setImmediate(resolve));
    }
    await this.lanes.close();
    await closeClient(this.connection);
  }

  // ---- internals ----

  private async admin(
    action: 'cancel' | 'retry' | 'remove',
    id: string,
    script: (keys: QueueKeys) => ScriptCall<scripts.ActionReply>,
    allowed: string,
  ): Promise<scripts.ActionReply> {
    this.assertOpen();
    validateTaskId(id);
    return this.act(await this.call(this.lanes.locate(id)), action, id, script, allowed);
  }

  /** An admin action's script in the partition that holds the task, its status checked. */
  private async act(
    lane: Lane<P, R>,
    action: 'cancel' | 'retry' | 'remove',
    id: string,
    script: (keys: QueueKeys) => ScriptCall<scripts.ActionReply>,
    allowed: string,
  ): Promise<scripts.ActionReply> {
    const reply = await this.call(runScript(this.client, script(lane.keys)));
    checkStatus(reply.status, { queue: this.name, taskId: id, action, allowed, state: stateFromCode(reply.state) ?? reply.state });
    return reply;
  }

  /** Resolves once the queue's name is in the prefix's registry (schedules make a queue known). */
  private async registration(): Promise<void> {
    this.register();
    await this.registered;
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

/** A page merged from every partition's first rows: those reach 1,000 rows in. */
function checkMergedPage(offset: number, limit: number): void {
  if (offset + limit > 1000) {
    throw new ValidationError(`a partitioned queue pages its lists within the first 1,000 rows (offset + limit ${offset + limit}): narrow the page, or read each state through counts()`);
  }
}

/** A group row of the group-list script, as users see it. */
function groupInfo(row: scripts.GroupRow, nowMs: number): GroupInfo {
  const info: GroupInfo = { name: row.name, waiting: row.waiting, active: row.active, paused: row.own[GROUP_FIELDS.paused] !== undefined, limits: {} };
  const held = Math.max(Number(row.own[GROUP_FIELDS.limitedUntil] ?? 0), row.parkedUntil === Infinity ? 0 : (row.parkedUntil ?? 0));
  if (held > nowMs) info.heldUntil = held; // a hold that has passed is no hold
  const concurrency = row.own[GROUP_FIELDS.concurrency];
  if (concurrency !== undefined) info.limits.concurrency = Number(concurrency);
  const max = row.own[GROUP_FIELDS.rateMax];
  const perMs = row.own[GROUP_FIELDS.ratePerMs];
  if (max !== undefined && perMs !== undefined) info.limits.rateLimit = { max: Number(max), perMs: Number(perMs) };
  return info;
}
