/**
 * A worker: runs a handler for the tasks of one queue, `concurrency` at a time.
 *
 * A partitioned queue's worker consumes every partition (src/queue/partitions.ts): a pump,
 * an idle wait and a heartbeat per partition, sharing the handler runner, its slots and the
 * connection; it follows the queue's layout as it changes (new partitions join, drained
 * ones stay until the worker closes).
 *
 * Responsible for: its options, connections and identity; putting its parts together (the
 * pump: claims and records in round trips; the idle wait: blocking on the wake marker; the
 * handler runner: leases, handlers, timeouts, with the isolation pool when handlers run in
 * threads or processes; the notes writer: progress and log lines; the lease keeper: the
 * heartbeat); its typed events; and a graceful close (stop claiming, let running handlers
 * finish up to a deadline, hand back the leases of the rest, end isolated handlers, record
 * every outcome, disconnect).
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MAX_PROGRESS_BYTES, resolveWorkerOptions, validateName, type ResolvedWorkerOptions, type WorkerOptions } from '../config.js';
import { ClosedError, LeaseLostError, ValidationError, type RateLimitedError } from '../errors.js';
import { closeClient, openClient, QUIT_TIMEOUT_MS, settledWithin, type OwnedClient } from '../redis/connection.js';
import { EvictionGuard } from '../redis/eviction-policy.js';
import { typedReplyError } from '../redis/reply-errors.js';
import { QueueKeys, queuesKey } from '../redis/keys.js';
import { partitionName, readLayout } from './partitions.js';
import * as scripts from '../redis/queue-scripts.js';
import { defineScripts, pipeScript, prepareScripts, runScript, type RedisClient } from '../redis/scripts.js';
import { loadTracing } from '../tracing.js';
import { HandlerRunner, type Handler } from './handler-runner.js';
import { IdleWait } from './idle-wait.js';
import { IsolationPool } from './isolation/pool.js';
import { TaskNotes } from './task-notes.js';
import { LeaseKeeper } from './lease.js';
import { computeScheduleSlots } from './schedule-book.js';
import type { ActiveTask } from './task.js';
import { Pump } from './worker-pump.js';
import { FlowHandOver } from '../flows/hand-over.js';
import { readChildren } from '../flows/children.js';

export type { Handler, HandlerContext } from './handler-runner.js';

export interface WorkerEvents<P, R> {
  /** A handler started. */
  active: [task: ActiveTask<P>];
  /** A result was recorded. */
  completed: [task: ActiveTask<P>, result: R];
  /** An attempt failed and was recorded; `willRetry` tells whether another attempt follows. */
  failed: [task: ActiveTask<P>, error: Error, willRetry: boolean];
  /** This worker's lease on a task was lost; its outcome was not (or will not be) recorded. */
  lost: [task: ActiveTask<P>, error: LeaseLostError];
  /**
   * The handler threw RateLimitedError: the task is back in line (no attempt used) and its
   * queue, or its group, claims nothing for the delay asked.
   */
  deferred: [task: ActiveTask<P>, error: RateLimitedError];
  /** A problem of the worker itself (Redis unreachable, ...). The worker keeps going. */
  error: [error: Error];
  closed: [];
}

export interface CloseOptions {
  /** How long in-flight handlers may run on before their leases are released. Default 30 s. */
  timeoutMs?: number;
}

/** How often a worker reads its queue's partitions (a partition added is consumed within this). */
const LAYOUT_CHECK_MS = 1_000;
/**
 * A partition's turn to claim (a worker of a partitioned queue), in tasks per slot of the
 * concurrency: long enough that the switches (where completions and claims go in separate
 * calls) are a small part of the work, short enough that every partition with work is
 * served within a few handler runs.
 */
const TURN_QUANTUM = 4;
/**
 * The longest a partition's turn lasts while others have work: slow handlers end turns by
 * time before their quantum, and a partition whose calls stall (its Redis failing over)
 * does not hold the others up for longer than this.
 */
const TURN_MAX_MS = 100;

/** One partition as a worker consumes it (an unpartitioned queue is one). */
interface WorkerLane<P> {
  mark: string;
  /** Its tasks this worker runs now. */
  held: number;
  keys: QueueKeys;
  idle: IdleWait;
  pump: Pump<P>;
  keeper: LeaseKeeper;
}

/** The scripts a worker's command connection calls (registered at once: its pipelines need them). */
const WORKER_SCRIPTS = ['claim', 'complete', 'complete-claim', 'fail', 'extend', 'reap', 'release', 'schedule-fire'] as const;

export class Worker<P = unknown, R = unknown> extends EventEmitter<WorkerEvents<P, R>> {
  readonly queue: string;
  readonly id: string;
  readonly options: ResolvedWorkerOptions;
  /** The keys of the queue's own layout (its first partition: schedules and flows live there). */
  private readonly keys: QueueKeys;
  private readonly connection: OwnedClient;
  private readonly runner: HandlerRunner<P, R>;
  /** The partitions consumed, by mark ('' first: the queue's own layout). */
  private readonly lanes = new Map<string, WorkerLane<P>>();
  /** The partition of each task this worker holds. */
  private readonly taskLanes = new Map<string, WorkerLane<P>>();
  private layoutTimer: NodeJS.Timeout | undefined;
  private nudgeTimer: NodeJS.Timeout | undefined;
  private claiming = false;
  /** Errors are no longer reported (a close gave up on Redis, or ended). */
  private quiet = false;
  /** Nothing is emitted any more ('closed' was the last). */
  private closedOff = false;
  /** Applies flow children's notices to their parents (src/flows/hand-over.ts). */
  private readonly flows: FlowHandOver;
  private readonly flowApplies = new Set<Promise<void>>();
  private readonly guard: EvictionGuard;
  private readonly notes: TaskNotes;
  private readonly startedAt = Date.now();
  private readonly tracing = loadTracing();
  private closing: Promise<void> | undefined;
  /** Cron slots being computed for the queue's schedules (one run at a time). */
  private computingSlots: Promise<void> | undefined;

  /**
   * `handler`: a function run in this process, or, with the `isolation` option, the URL
   * (or path) of a module whose default export is the handler (or maps queue names to
   * handlers), run in a pool of threads or processes.
   */
  constructor(queue: string, handler: Handler<P, R> | URL | string, options?: WorkerOptions) {
    super();
    this.queue = validateName('queue', queue);
    this.options = resolveWorkerOptions(options);
    const module = handlerModule(handler, this.options.isolation);
    this.keys = new QueueKeys(this.options.prefix, this.queue);
    this.id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.connection = openClient(this.options.connection, { patient: true });
    if (this.connection.owned) this.connection.client.on('error', (error: Error) => this.report(error));
    defineScripts(this.connection.client, WORKER_SCRIPTS);
    this.notes = new TaskNotes({ client: this.client, keysOf: (id) => this.laneOf(id).keys, report: (error) => this.report(error) });
    const { isolation, memoryLimitMb, maxResultBytes } = this.options;
    const pool =
      module && isolation
        ? new IsolationPool({
            kind: isolation,
            handler: module,
            queue: this.queue,
            size: this.options.concurrency,
            memoryLimitMb,
            maxResultBytes,
            maxProgressBytes: MAX_PROGRESS_BYTES,
            onProgress: (id, json) => this.runner.noteFromIsolated(id, json, true),
            onLog: (id, text) => this.runner.noteFromIsolated(id, text, false),
            report: (error) => this.report(error),
          })
        : undefined;
    this.runner = new HandlerRunner<P, R>(module ? undefined : (handler as Handler<P, R>), {
      queue: this.queue,
      maxResultBytes,
      timeoutMs: this.options.timeoutMs,
      notes: this.notes,
      children: (id) => readChildren(this.client, this.laneOf(id).keys, id),
      pool,
      onActive: (task) => this.safeEmit('active', task),
      onFinish: (finish) => {
        const lane = this.leave(finish.lease.task.id);
        lane.pump.add(finish);
      },
      onLost: (task, error) => {
        this.leave(task.id);
        this.safeEmit('lost', task, error);
      },
      onSlotFreed: () => this.slotFreed(),
    });
    this.flows = new FlowHandOver(() => this.client, this.options.prefix);
    // A Redis that may evict queue keys is refused, at start and after every reconnect: the
    // worker reports why and closes (eviction-policy.ts).
    this.guard = new EvictionGuard(this.connection.client, {
      allow: this.options.unsafeAllowEviction,
      onUnsafe: (error) => {
        this.report(error);
        void this.close();
      },
    });
    this.addLane('');
    if (this.options.autorun) this.run();
  }

  /** Starts consuming one more partition (with the mark ''), the queue's own layout. */
  private addLane(mark: string): WorkerLane<P> {
    const keys = mark ? new QueueKeys(this.options.prefix, partitionName(this.queue, mark)) : this.keys;
    const { concurrency, leaseMs, durability } = this.options;
    const idle = new IdleWait(this.options.connection);
    const runner = this.runner;
    const lane = { mark, keys, idle, held: 0 } as WorkerLane<P>;
    lane.pump = new Pump<P>({
      client: this.client,
      keys,
      concurrency,
      leaseMs,
      durability,
      runner: {
        get busy() {
          return runner.busy;
        },
        start: (claimed) => {
          this.taskLanes.set(claimed.id, lane);
          lane.held++;
          if (lane === this.holder) this.holderClaimed++;
          runner.start(claimed);
        },
      },
      idle,
      onCompleted: (task, value) => this.safeEmit('completed', task, value as R),
      onFailed: (task, error, willRetry) => this.safeEmit('failed', task, error, willRetry),
      onLost: (task, error) => this.safeEmit('lost', task, error),
      onDeferred: (task, error) => this.safeEmit('deferred', task, error),
      lostError: (id) => new LeaseLostError(id),
      report: (error) => this.report(error),
      onSchedulesWaiting: () => this.computeSlots(),
      onFlowFinal: (ids) => this.applyFlowNotices(ids),
    });
    lane.keeper = new LeaseKeeper({
      client: this.client,
      keys,
      workerId: this.id,
      leaseMs,
      leases: () => (this.lanes.size === 1 ? runner.held() : runner.held().filter((held) => this.taskLanes.get(held.id) === lane)),
      describe: () => this.describe(),
      onLost: (ids) => runner.lose(ids),
      onSchedules: (reply) => {
        if (reply.schedulesToRefill > 0) this.computeSlots();
        lane.pump.noteScheduleDue(reply.scheduleDueInMs);
      },
      onError: (error) => this.report(error),
      // Flows live in the queue's own layout.
      ...(mark ? {} : { sweep: () => this.flows.sweep(this.queue) }),
    });
    this.lanes.set(mark, lane);
    if (this.lanes.size > 1) {
      // Several partitions: their pumps share the worker's slots.
      for (const each of this.lanes.values()) {
        each.pump.share({
          free: () => this.freeFor(each),
          room: () => this.room(),
          returned: () => setImmediate(() => this.slotFreed()), // once the claim's own count is settled
        });
      }
    }
    return lane;
  }

  /**
   * The partition whose turn it is to claim (several partitions only): it takes every free
   * slot, as an unpartitioned queue's pump would, so its completions and claims go in one
   * script call with full batches. The turn passes to the next partition with work once the
   * holder has claimed a quantum (TURN_QUANTUM × concurrency tasks), has had it for
   * TURN_MAX_MS, or has no work left.
   */
  private holder: WorkerLane<P> | undefined;
  /** Tasks the holder claimed since its turn began, and when it began (ms, performance.now()). */
  private holderClaimed = 0;
  private holderSince = 0;

  /** Slots free over every partition: not running a handler, not asked for by a claim on its way. */
  private room(): number {
    let free = this.options.concurrency - this.runner.busy;
    for (const each of this.lanes.values()) free -= each.pump.inFlight;
    return free;
  }

  /**
   * The slots a partition's pump may claim now: the worker's free slots for the partition
   * whose turn it is, none for the others while it has work. Turns rotate over the
   * partitions with work (round robin, a quantum each), so none is starved and a worker
   * alone on one busy partition keeps every slot on it (stealing).
   */
  private freeFor(lane: WorkerLane<P>): number {
    return this.turnHolder() === lane ? Math.max(0, this.room()) : 0;
  }

  /** The partition whose turn it is, after passing the turn on if it is over or the holder has no work. */
  private turnHolder(): WorkerLane<P> | undefined {
    const holder = this.holder;
    if (holder?.pump.hungry && this.holderClaimed < TURN_QUANTUM * this.options.concurrency && performance.now() - this.holderSince < TURN_MAX_MS) return holder;
    // Round robin over the map in place (this runs on every pump's ask while none has work):
    // the first with work after the holder, else the first from the start, the holder last.
    let next: WorkerLane<P> | undefined;
    let past = false;
    for (const lane of this.lanes.values()) {
      if (lane.pump.hungry) {
        if (past) {
          next = lane;
          break;
        }
        next ??= lane;
      }
      if (lane === holder) past = true;
    }
    if (!next) return holder; // none has work: the turn stays (a claim asked for by the holder is still served)
    this.holder = next;
    this.holderClaimed = 0;
    this.holderSince = performance.now();
    if (next !== holder) next.pump.schedule();
    return next;
  }

  /** The partition of a task this worker holds (the queue's own layout if unknown). */
  private laneOf(id: string): WorkerLane<P> {
    return this.taskLanes.get(id) ?? this.lanes.get('')!;
  }

  /** A task leaves this worker (finished or lost): its partition, which holds one less. */
  private leave(id: string): WorkerLane<P> {
    const lane = this.laneOf(id);
    if (this.taskLanes.delete(id)) lane.held--;
    return lane;
  }

  /**
   * Every second (several partitions): makes each pump that fell out of asking, waiting and
   * awaiting ask again, and each partition with work ask for its turn, so a turn held by a
   * stalled partition passes on (TURN_MAX_MS) even with no handler finishing to pass it.
   * On a timer of its own: the layout read may wait on a Redis that is failing over.
   */
  private nudgeLanes(): void {
    if (this.lanes.size < 2 || !this.claiming) return;
    for (const lane of this.lanes.values()) {
      lane.pump.nudge();
      if (lane.pump.hungry) lane.pump.schedule();
    }
  }

  /** Where slotFreed starts: each time the next partition, so none is always served first. */
  private turn = 0;

  /** A handler's slot is free: the pumps likely to find work claim for it, starting each time with another. */
  private slotFreed(): void {
    if (this.lanes.size === 1) {
      this.lanes.get('')!.pump.schedule();
      return;
    }
    const lanes = [...this.lanes.values()];
    const start = this.turn++ % lanes.length;
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[(start + i) % lanes.length]!;
      if (lane.pump.hungry) lane.pump.schedule();
    }
  }

  /** Starts a partition's pump and heartbeat. */
  private startLane(lane: WorkerLane<P>): void {
    lane.pump.claiming = true;
    lane.keeper.start();
    void this.tracing.then(() => lane.pump.schedule());
  }

  /** Reads the queue's partitions and consumes those not consumed yet. */
  private async followLayout(): Promise<void> {
    const layout = await readLayout(this.client, this.keys);
    if (!this.claiming) return;
    for (const mark of layout.marks) if (!this.lanes.has(mark)) this.startLane(this.addLane(mark));
  }

  /** Starts claiming (automatic unless `autorun: false`). */
  run(): void {
    if (this.closing) throw new ClosedError(`worker of queue "${this.queue}"`);
    if (this.claiming) return;
    this.claiming = true;
    // Nothing is written or claimed before Redis's eviction policy was found safe; the first
    // claim also waits for OpenTelemetry's API to load (or fail to: it is optional), so every
    // attempt gets its span when tracing is on.
    // The scripts are loaded as functions before the first pipeline (the heartbeat's).
    this.guard
      .ready()
      .then(() => prepareScripts(this.client))
      .then(
        async () => {
          if (!this.claiming) return; // closed meanwhile
          this.client.sadd(queuesKey(this.options.prefix), this.queue).catch((error: Error) => this.report(error));
          // Every partition joins before the first claim, so they share the slots from the start.
          const layout = await readLayout(this.client, this.keys).catch((error: Error) => void this.report(error));
          if (!this.claiming) return;
          for (const mark of layout?.marks ?? []) if (!this.lanes.has(mark)) this.addLane(mark);
          for (const lane of this.lanes.values()) this.startLane(lane);
          const check = () => {
            this.layoutTimer = setTimeout(() => void this.followLayout().catch((error: Error) => this.report(error)).finally(() => this.claiming && check()), LAYOUT_CHECK_MS);
          };
          if (this.claiming) {
            check();
            this.nudgeTimer = setInterval(() => this.nudgeLanes(), LAYOUT_CHECK_MS);
          }
        },
        () => {}, // refused: onUnsafe reported it and closes the worker
      );
  }

  /** @internal A heartbeat in every partition now (tests: instead of waiting for the next one). */
  async beat(): Promise<void> {
    await Promise.all([...this.lanes.values()].map((lane) => lane.keeper.beat()));
  }

  /** Handlers running now. */
  get running(): number {
    return this.runner.busy;
  }

  /**
   * Stops claiming, lets running handlers finish (up to `timeoutMs`), then releases the
   * leases of any still running (they go back to the front of the queue, without counting
   * an attempt, and their signals are aborted), records every outcome, and disconnects.
   */
  close({ timeoutMs = 30_000 }: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutDown(timeoutMs);
    return this.closing;
  }

  /**
   * Flow children this worker finished: their notices go to their parents now (beside the
   * pump's round trips). One that fails is left to the sweep.
   */
  private applyFlowNotices(children: { id: string; notice?: string }[]): void {
    const known = children.flatMap(({ id, notice }) => (notice ? [{ childId: id, notice }] : []));
    const unknown = children.filter((child) => !child.notice).map((child) => child.id);
    const applying = Promise.all([this.flows.applyKnown(this.queue, known), this.flows.apply(this.queue, unknown)])
      .then(() => undefined)
      .catch((error: Error) => this.report(error));
    this.flowApplies.add(applying);
    void applying.finally(() => this.flowApplies.delete(applying));
  }

  private get client(): RedisClient {
    return this.connection.client;
  }

  private async shutDown(timeoutMs: number): Promise<void> {
    this.claiming = false;
    clearTimeout(this.layoutTimer);
    clearInterval(this.nudgeTimer);
    const lanes = [...this.lanes.values()];
    for (const lane of lanes) lane.pump.claiming = false;
    this.guard.dispose();
    await Promise.all(lanes.map((lane) => lane.idle.stop(this.client)));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    // Claims already on their way bring leased tasks: they run (or are released below) like
    // the others, so wait for them before counting what is running.
    await Promise.race([Promise.all(lanes.map((lane) => lane.pump.settle())), timedOut]);
    await Promise.race([this.runner.whenIdle(), timedOut]);
    clearTimeout(timer);
    // Handlers still running give their leases up, and isolated ones end, before the budget
    // for the last writes starts: a pool's exit is this process's business, not Redis's.
    const held = this.runner.surrender();
    await this.runner.close();
    const deadline = Date.now() + Math.max(timeoutMs, 1_000);
    const wrapUp = (async () => {
      await this.releaseHeld(held);
      await this.notes.close();
      await Promise.all(lanes.map((lane) => lane.pump.flush(deadline)));
      await Promise.all(lanes.map((lane) => lane.keeper.stop()));
      await Promise.all(this.flowApplies);
      await this.computingSlots;
      for (const lane of lanes) lane.pump.stop();
      await Promise.all(lanes.map((lane) => this.client.hdel(lane.keys.workers, this.id).catch(() => {})));
    })();
    // A Redis that answers nothing (stalled, or unreachable with the commands queued) must
    // not keep the close from ending: what is not recorded by the deadline, and a little
    // after for the last writes, is left to the leases (their expiry runs the tasks again).
    wrapUp.catch((error: Error) => this.report(error));
    if (!(await settledWithin(wrapUp, deadline - Date.now() + QUIT_TIMEOUT_MS))) {
      // What the abandoned steps still do (their commands fail as the connections close) is
      // not reported, nor emitted after 'closed'.
      this.quiet = true;
      for (const lane of lanes) {
        lane.pump.stop();
        void lane.keeper.stop(); // its heartbeat timer ends now
      }
    }
    await Promise.all([closeClient(this.connection), ...lanes.map((lane) => lane.idle.close())]);
    this.safeEmit('closed');
    this.quiet = true;
    this.closedOff = true;
  }

  /**
   * Computes the cron slots the queue's schedules wait for (a claim said some do): one run
   * at a time; any other worker may do the same, the script adds them once.
   */
  private computeSlots(): void {
    if (this.computingSlots || !this.claiming) return;
    this.computingSlots = computeScheduleSlots(this.client, this.keys)
      .then(() => this.lanes.get('')!.pump.schedule(), (error: Error) => this.report(error))
      .finally(() => (this.computingSlots = undefined));
  }

  /** Leases of handlers still running at the close deadline (surrendered) go back to the queue. */
  private async releaseHeld(remaining: ReturnType<HandlerRunner<P, R>['surrender']>): Promise<void> {
    if (!remaining.length) return;
    const byLane = new Map<WorkerLane<P>, typeof remaining>();
    for (const held of remaining) {
      const lane = this.laneOf(held.id);
      byLane.set(lane, [...(byLane.get(lane) ?? []), held]);
    }
    // One call per partition (runScript reloads the scripts' library if the server lost it).
    // If one fails, the leases simply expire and the tasks run again elsewhere.
    await Promise.all(
      [...byLane].map(([lane, held]) => runScript(this.client, scripts.release(lane.keys, held)).catch((error: Error) => this.report(error))),
    );
  }

  private describe(): Record<string, unknown> {
    return {
      id: this.id,
      queue: this.queue,
      host: hostname(),
      pid: process.pid,
      concurrency: this.options.concurrency,
      ...(this.options.isolation ? { isolation: this.options.isolation } : {}),
      running: this.runner.busy,
      tasks: this.runner.heldIds(),
      leaseMs: this.options.leaseMs,
      startedAt: this.startedAt,
    };
  }

  private report(reported: Error): void {
    if (this.quiet) return; // a close gave up on Redis: the failures of what it left are expected
    const error = typedReplyError(reported) ?? reported; // OOM, refused credentials
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.error(`[errand] worker ${this.id} (queue "${this.queue}"): ${error.message}`);
  }

  /** Listeners are user code: one that throws must not break the loop. */
  private safeEmit<K extends keyof WorkerEvents<P, R>>(event: K, ...args: WorkerEvents<P, R>[K]): void {
    if (this.closedOff) return; // 'closed' was the last
    try {
      (this.emit as (event: K, ...args: WorkerEvents<P, R>[K]) => boolean)(event, ...args);
    } catch (error) {
      this.report(error as Error);
    }
  }
}

/** The handler module of an isolated worker as a file URL (checked to exist); undefined for a handler function. */
function handlerModule(handler: unknown, isolation: string | undefined): URL | undefined {
  if (typeof handler === 'function') {
    if (isolation) {
      throw new ValidationError(`isolation '${isolation}' runs a module, not a function: new Worker(queue, new URL('./handler.js', import.meta.url), { isolation: '${isolation}' })`);
    }
    return undefined;
  }
  if (!(handler instanceof URL) && typeof handler !== 'string') {
    throw new TypeError('a Worker needs a handler function, new Worker(queue, async (task) => ...), or with isolation a module URL');
  }
  if (!isolation) {
    throw new ValidationError("a handler module runs isolated: add isolation: 'thread' or 'process' (or pass a handler function to run it in this process)");
  }
  let url: URL;
  try {
    url = handler instanceof URL ? handler : handler.startsWith('file:') ? new URL(handler) : isAbsolute(handler) ? pathToFileURL(handler) : pathToFileURL(`${process.cwd()}/${handler}`);
  } catch (error) {
    throw new ValidationError(`handler module ${JSON.stringify(String(handler))} is not a file URL or path`, { cause: error });
  }
  if (url.protocol !== 'file:' || !existsSync(fileURLToPath(url))) {
    throw new ValidationError(`handler module ${url.href} not found: give the URL of a .js (or, with tsx installed, .ts) file, e.g. new URL('./handler.js', import.meta.url)`);
  }
  return url;
}
