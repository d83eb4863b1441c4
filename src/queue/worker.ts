/**
 * The worker loop: claims tasks, runs the handler, records outcomes.
 *
 * Responsible for: keeping up to `concurrency` handlers busy; claiming in batches and
 * flushing completions and failures in batches, each pump one round trip (its calls are
 * written together);
 * blocking on the queue's wake marker while idle (no polling), until the next delayed task
 * or lease deadline falls due; timeouts (abort the handler's signal, fail the attempt);
 * backoff decisions; graceful close. Lease upkeep is the LeaseKeeper's job; the atomic
 * transitions are the scripts'.
 */
import { EventEmitter } from 'node:events';
import { Cluster } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { resolveWorkerOptions, validateName, type BackoffOptions, type ResolvedWorkerOptions, type WorkerOptions } from '../config.js';
import {
  ClosedError,
  describeError,
  HandlerTimeoutError,
  LeaseLostError,
  RetryAfterError,
  UnrecoverableError,
} from '../errors.js';
import { encodeJson } from '../json.js';
import { closeClient, openClient, openDedicatedClient, quit, type OwnedClient } from '../redis/connection.js';
import { EvictionGuard } from '../redis/eviction-policy.js';
import { typedReplyError } from '../redis/reply-errors.js';
import { QueueKeys, queuesKey } from '../redis/keys.js';
import { defineScripts, pipeScript, runScript, type RedisClient } from '../redis/scripts.js';
import { Status } from '../redis/status.js';
import { backoffDelayMs } from './backoff.js';
import { LeaseKeeper } from './lease.js';
import type { ActiveTask } from './task.js';

export interface HandlerContext {
  /** Aborted when the task times out, its lease is lost (cancelled, expired) or the worker closes. */
  signal: AbortSignal;
}

export type Handler<P, R> = (task: ActiveTask<P>, context: HandlerContext) => R | Promise<R>;

export interface WorkerEvents<P, R> {
  /** A handler started. */
  active: [task: ActiveTask<P>];
  /** A result was recorded. */
  completed: [task: ActiveTask<P>, result: R];
  /** An attempt failed and was recorded; `willRetry` tells whether another attempt follows. */
  failed: [task: ActiveTask<P>, error: Error, willRetry: boolean];
  /** This worker's lease on a task was lost; its outcome was not (or will not be) recorded. */
  lost: [task: ActiveTask<P>, error: LeaseLostError];
  /** A problem of the worker itself (Redis unreachable, ...). The worker keeps going. */
  error: [error: Error];
  closed: [];
}

export interface CloseOptions {
  /** How long in-flight handlers may run on before their leases are released. Default 30 s. */
  timeoutMs?: number;
}

/**
 * Round trips a worker keeps in flight: with two, Redis runs one batch while this process
 * handles the replies of the other, instead of each waiting on the other in turn.
 */
const MAX_TRIPS_IN_FLIGHT = 2;
/** The scripts a worker calls (see defineScripts). */
const WORKER_SCRIPTS = ['claim', 'complete', 'complete-claim', 'fail', 'extend', 'reap', 'release'] as const;
/** The longest an idle worker blocks before claiming once more, whatever it expects. */
const MAX_IDLE_WAIT_MS = 10_000;
/** How long close() waits for an unblocked idle wait's claim to be answered. */
const UNBLOCK_TIMEOUT_MS = 2_000;
const MAX_STACK_CHARS = 4_000;

interface Lease<P> {
  task: ActiveTask<P>;
  token: string;
  controller: AbortController | undefined;
  backoff: BackoffOptions | undefined;
  timer: NodeJS.Timeout | undefined;
}

interface Completion<P> {
  lease: Lease<P>;
  json: string;
  value: unknown;
}

interface Failure<P> {
  lease: Lease<P>;
  error: Error;
  json: string;
  retryDelayMs: number;
}

/** Aborts a lease's signal, if its handler ever asked for one (a later ask sees it aborted). */
function abort(lease: Lease<unknown>, reason: Error): void {
  lease.controller ??= new AbortController();
  lease.controller.abort(reason);
}

export class Worker<P = unknown, R = unknown> extends EventEmitter<WorkerEvents<P, R>> {
  readonly queue: string;
  readonly id: string;
  readonly options: ResolvedWorkerOptions;
  private readonly keys: QueueKeys;
  private readonly connection: OwnedClient;
  private readonly blocker: RedisClient;
  private readonly keeper: LeaseKeeper;
  private readonly guard: EvictionGuard;
  private readonly startedAt = Date.now();

  private readonly leases = new Map<string, Lease<P>>();
  private busy = 0;
  private completions: Completion<P>[] = [];
  private failures: Failure<P>[] = [];
  private claiming = false;
  private blocked = false;
  /** Round trips in flight, and how many tasks their claims asked for. */
  private readonly trips = new Set<Promise<void>>();
  private claimsInFlight = 0;
  private readonly claimBatch: number;
  /**
   * The last claim got all it asked for, so more work is probably waiting: claims then
   * overlap. After a short claim the worker blocks on the wake marker instead, and a wake
   * sends one claim, not two (the second would find nothing and cost a script call).
   */
  private backlog = true;
  private pumpAgain = false;
  private pumpScheduled = false;
  private retryDelayMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** The idle wait in flight (wake marker + the claim pipelined behind it), and the blocker's client id. */
  private waiting: Promise<void> | undefined;
  private blockerId: number | undefined;
  private idleWaiters: (() => void)[] = [];
  private closing: Promise<void> | undefined;

  constructor(
    queue: string,
    private readonly handler: Handler<P, R>,
    options?: WorkerOptions,
  ) {
    super();
    this.queue = validateName('queue', queue);
    if (typeof handler !== 'function') throw new TypeError('a Worker needs a handler function: new Worker(queue, async (task) => ...)');
    this.options = resolveWorkerOptions(options);
    this.keys = new QueueKeys(this.options.prefix, this.queue);
    this.claimBatch = Math.ceil(this.options.concurrency / MAX_TRIPS_IN_FLIGHT);
    this.id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.connection = openClient(this.options.connection, { patient: true });
    this.blocker = openDedicatedClient(this.options.connection, { patient: true, blocking: true });
    if (this.connection.owned) this.connection.client.on('error', (error: Error) => this.report(error));
    this.blocker.on('error', () => {}); // the command client reports the same outage once
    // A reconnected blocker has a new client id, unknown while it blocks: close() disconnects it.
    this.blocker.on('close', () => (this.blockerId = undefined));
    defineScripts(this.connection.client, WORKER_SCRIPTS);
    defineScripts(this.blocker, ['claim']);
    // A Redis that may evict queue keys is refused, at start and after every reconnect: the
    // worker reports why and closes (eviction-policy.ts).
    this.guard = new EvictionGuard(this.connection.client, {
      allow: this.options.unsafeAllowEviction,
      onUnsafe: (error) => {
        this.report(error);
        void this.close();
      },
    });
    this.keeper = new LeaseKeeper({
      client: this.connection.client,
      keys: this.keys,
      workerId: this.id,
      leaseMs: this.options.leaseMs,
      retention: this.options.retention,
      leases: () => [...this.leases.values()].map((lease) => ({ id: lease.task.id, token: lease.token })),
      describe: () => this.describe(),
      onLost: (ids) => this.onLeasesLost(ids),
      onError: (error) => this.report(error),
    });
    if (this.options.autorun) this.run();
  }

  /** Starts claiming (automatic unless `autorun: false`). */
  run(): void {
    if (this.closing) throw new ClosedError(`worker of queue "${this.queue}"`);
    if (this.claiming) return;
    this.claiming = true;
    // Nothing is written or claimed before Redis's eviction policy was found safe.
    this.guard.ready().then(() => {
      if (!this.claiming) return; // closed meanwhile
      this.client.sadd(queuesKey(this.options.prefix), this.queue).catch((error: Error) => this.report(error));
      this.keeper.start();
      this.schedulePump();
    }, () => {}); // refused: onUnsafe reported it and closes the worker
  }

  /** Handlers running now. */
  get running(): number {
    return this.busy;
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

  // ---- the pump: one round trip of finishes and a claim ----

  private get client(): RedisClient {
    return this.connection.client;
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.trips.size >= MAX_TRIPS_IN_FLIGHT) {
      this.pumpAgain = true;
      return;
    }
    if (this.retryTimer) return; // recovering from an error: the timer pumps
    const completions = this.completions;
    const failures = this.failures;
    const free = this.options.concurrency - this.busy - this.claimsInFlight;
    // Claims are split so the trips in flight share the work and overlap.
    const want = this.claiming && !this.blocked ? Math.min(free, this.claimBatch) : 0;
    if (!completions.length && !failures.length && want <= 0) return;
    this.completions = [];
    this.failures = [];
    const { keys } = this;
    const { retention } = this.options;
    const claimed = Math.max(want, 0);
    const claimArgs = this.claimArgs(claimed);
    const finished = completions.flatMap(({ lease, json }) => [lease.task.id, lease.token, json]);
    // The usual case, tasks done and room for more, is one script call; otherwise separate
    // calls, sent back to back.
    const both = completions.length > 0 && claimed > 0;
    const completeAndClaim = both
      ? runScript(this.client, 'complete-claim', [keys.meta, keys.priorities, keys.delayed, keys.active, keys.completed, keys.wake], [
          keys.base,
          retention.completed.count,
          retention.completed.maxAgeMs,
          ...claimArgs,
          ...finished,
        ]).then((reply) => reply as [unknown, unknown])
      : undefined;
    const completeCall = both
      ? completeAndClaim!.then(([codes]) => codes)
      : completions.length
      ? runScript(this.client, 'complete', [keys.meta, keys.active, keys.completed], [
          keys.base,
          retention.completed.count,
          retention.completed.maxAgeMs,
          ...finished,
        ])
      : undefined;
    const failCall = failures.length
      ? runScript(this.client, 'fail', [keys.meta, keys.active, keys.delayed, keys.failed], [
          keys.base,
          retention.failed.count,
          retention.failed.maxAgeMs,
          ...failures.flatMap(({ lease, json, retryDelayMs }) => [lease.task.id, lease.token, json, retryDelayMs]),
        ])
      : undefined;
    const claimCall = both
      ? completeAndClaim!.then(([, claim]) => claim)
      : claimed > 0
        ? runScript(this.client, 'claim', [keys.meta, keys.priorities, keys.delayed, keys.active, keys.wake], [keys.base, ...claimArgs])
        : undefined;
    this.claimsInFlight += claimed;
    const trip = Promise.allSettled([completeCall, failCall, claimCall]).then(([complete, fail, claim]) => {
      this.claimsInFlight -= claimed;
      this.onFinished(complete, completions, 'complete');
      this.onFinished(fail, failures, 'fail');
      if (claim.status === 'fulfilled') {
        if (claim.value !== undefined) this.onClaim(claim.value as (string | number)[], claimed);
      } else {
        // A claim whose reply was lost leaves its leases to expire: those tasks run again.
        this.report(claim.reason as Error);
        this.retryLater();
      }
      if (complete.status === 'fulfilled' && fail.status === 'fulfilled' && claim.status === 'fulfilled') this.retryDelayMs = 0;
    });
    this.trips.add(trip);
    // Slots still free: claim for them now, so the next batch is on its way while Redis
    // runs this one (without this, handlers finish before the reply and trips never overlap).
    if (claimed > 0 && this.backlog && this.options.concurrency - this.busy - this.claimsInFlight > 0) this.schedulePump();
    await trip;
    this.trips.delete(trip);
    if (this.pumpAgain || this.completions.length || this.failures.length) {
      this.pumpAgain = false;
      this.schedulePump();
    }
  }

  /** The claim script's ARGV after `base` (see claim.lua). */
  private claimArgs(wanted: number): (string | number)[] {
    const { leaseMs, retention } = this.options;
    return [wanted, leaseMs, this.id, retention.failed.count, retention.failed.maxAgeMs];
  }

  private retryLater(): void {
    if (this.retryTimer) return;
    this.retryDelayMs = Math.min(Math.max(this.retryDelayMs * 2, 100), 5_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedulePump();
    }, this.retryDelayMs);
  }

  /** Emits the outcome of each recorded finish; puts back a batch whose call failed. */
  private onFinished(
    settled: PromiseSettledResult<unknown>,
    batch: (Completion<P> | Failure<P>)[],
    kind: 'complete' | 'fail',
  ): void {
    if (!batch.length) return;
    if (settled.status === 'rejected') {
      // Nothing was lost: the finishes go back in line and are sent again; the leases stay
      // valid meanwhile (and if they expire, the task runs again, as promised). A batch
      // that was applied but whose reply was lost is refused harmlessly the second time.
      if (kind === 'complete') this.completions.unshift(...(batch as Completion<P>[]));
      else this.failures.unshift(...(batch as Failure<P>[]));
      this.report(settled.reason as Error);
      this.retryLater();
      return;
    }
    // Number(): a client with ioredis's stringNumbers gives integers as strings.
    const codes = (settled.value as (number | string)[]).map(Number);
    batch.forEach((finish, i) => {
      const { task } = finish.lease;
      if (codes[i] === Status.LEASE_LOST) this.safeEmit('lost', task, new LeaseLostError(task.id));
      else if (kind === 'complete') this.safeEmit('completed', task, (finish as Completion<P>).value as R);
      else this.safeEmit('failed', task, (finish as Failure<P>).error, codes[i] === Status.OK);
    });
  }

  private onClaim(reply: (string | number)[], asked: number): void {
    const dueInMs = Number(reply[0]);
    const paused = Number(reply[1]) === 1;
    let count = 0;
    for (let i = 2; i + 7 < reply.length; i += 8) {
      count++;
      const backoff = reply[i + 5] ? (JSON.parse(String(reply[i + 5])) as BackoffOptions) : undefined;
      const timeoutMs = reply[i + 6] ? Number(reply[i + 6]) : undefined;
      this.start(
        {
          id: String(reply[i]),
          queue: this.queue,
          payload: JSON.parse(String(reply[i + 4])) as P,
          attempt: Number(reply[i + 2]),
          maxAttempts: Number(reply[i + 3]),
          createdAt: Number(reply[i + 7]),
        },
        String(reply[i + 1]),
        backoff,
        timeoutMs,
      );
    }
    this.backlog = count === asked;
    const free = this.options.concurrency - this.busy;
    // A short claim emptied the queue: wait for the next announcement now, so the blocking
    // pop is already in Redis when work arrives (one hop to a handler, not two).
    if (paused || (!this.backlog && free > 0)) this.waitForWork(dueInMs);
    else if (free > 0) this.schedulePump();
  }

  /**
   * Blocks on the wake marker until work is announced or something falls due, with a claim
   * pipelined behind the blocking pop on the same connection: Redis runs it the moment the
   * pop returns, so announced work reaches a handler in one hop from Redis, not two.
   */
  private waitForWork(dueInMs: number): void {
    if (this.blocked || !this.claiming) return;
    if (dueInMs === 0) {
      this.schedulePump(); // more was due than one claim reaps or promotes
      return;
    }
    const want = Math.min(this.options.concurrency - this.busy - this.claimsInFlight, this.claimBatch);
    if (want <= 0) return;
    this.blocked = true;
    this.claimsInFlight += want;
    const waitMs = dueInMs < 0 ? MAX_IDLE_WAIT_MS : Math.min(MAX_IDLE_WAIT_MS, dueInMs + 5);
    const { keys, blocker } = this;
    // The blocker's id lets close() end the wait with CLIENT UNBLOCK, so the pipelined
    // claim still runs and its reply is read (a Cluster routes CLIENT elsewhere: it is
    // disconnected instead).
    if (!(blocker instanceof Cluster)) {
      blocker.client('ID').then((id) => (this.blockerId = Number(id)), () => {});
    }
    const woke = blocker.bzpopmin(keys.wake, (waitMs / 1000).toFixed(3));
    const claim = runScript(blocker, 'claim', [keys.meta, keys.priorities, keys.delayed, keys.active, keys.wake], [
      keys.base,
      ...this.claimArgs(want),
    ]);
    this.waiting = Promise.allSettled([woke, claim]).then(([, claimed]) => {
      this.blocked = false;
      this.blockerId = undefined;
      this.waiting = undefined;
      this.claimsInFlight -= want;
      if (claimed.status === 'fulfilled') {
        this.retryDelayMs = 0;
        this.onClaim(claimed.value as (string | number)[], want);
      } else if (this.claiming) {
        // A claim whose reply was lost leaves its leases to expire: those tasks run again.
        this.report(claimed.reason as Error);
        this.retryLater();
      }
    });
  }

  /** Ends an idle wait: unblocked, its pipelined claim runs and is answered (disconnect if that fails). */
  private async stopWaiting(): Promise<void> {
    const { waiting, blockerId } = this;
    if (waiting && blockerId !== undefined && !(this.client instanceof Cluster)) {
      const unblocked = this.client.client('UNBLOCK', blockerId).then(() => waiting, () => {});
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([unblocked, new Promise((resolve) => (timer = setTimeout(resolve, UNBLOCK_TIMEOUT_MS)))]);
      clearTimeout(timer);
    }
    this.blocker.disconnect(); // ends a wait still pending (its claim then never runs)
    await this.waiting;
  }

  // ---- running handlers ----

  private start(task: ActiveTask<P>, token: string, backoff: BackoffOptions | undefined, timeoutMs: number | undefined): void {
    const lease: Lease<P> = { task, token, controller: undefined, backoff, timer: undefined };
    this.leases.set(task.id, lease);
    this.busy++;
    if (timeoutMs !== undefined) {
      lease.timer = setTimeout(() => {
        const error = new HandlerTimeoutError(task.id, timeoutMs);
        abort(lease, error);
        this.finish(lease, false, error);
      }, timeoutMs);
    }
    this.safeEmit('active', task);
    void this.runHandler(lease);
  }

  private async runHandler(lease: Lease<P>): Promise<void> {
    // Most handlers never look at their signal: its AbortController is made on first use.
    const context: HandlerContext = {
      get signal() {
        lease.controller ??= new AbortController();
        return lease.controller.signal;
      },
    };
    try {
      const value = await this.handler(lease.task, context);
      this.finish(lease, true, value);
    } catch (error) {
      this.finish(lease, false, error);
    }
    // The slot frees only when the handler's promise settles, even after a timeout or a
    // lost lease, so a handler that ignores its signal never oversubscribes the worker.
    this.busy--;
    if (this.busy === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    this.schedulePump();
  }

  private finish(lease: Lease<P>, ok: boolean, outcome: unknown): void {
    if (this.leases.get(lease.task.id) !== lease) return; // timed out, lost or released already
    this.leases.delete(lease.task.id);
    clearTimeout(lease.timer);
    if (ok) {
      try {
        const json = outcome === undefined ? '' : encodeJson(outcome, 'result', this.options.maxResultBytes);
        this.completions.push({ lease, json, value: outcome });
      } catch (error) {
        // A result that cannot be stored will not become storable by retrying.
        this.fail(lease, new UnrecoverableError((error as Error).message, { cause: error }));
      }
    } else {
      this.fail(lease, outcome);
    }
    this.schedulePump();
  }

  private fail(lease: Lease<P>, thrown: unknown): void {
    const error = thrown instanceof Error ? thrown : new Error(describeError(thrown).message);
    const info = describeError(error);
    if (info.stack && info.stack.length > MAX_STACK_CHARS) info.stack = info.stack.slice(0, MAX_STACK_CHARS);
    const { attempt, maxAttempts } = lease.task;
    let retryDelayMs = -1;
    if (!(error instanceof UnrecoverableError) && attempt < maxAttempts) {
      retryDelayMs = error instanceof RetryAfterError ? Math.max(0, Math.round(error.delayMs)) : backoffDelayMs(attempt, lease.backoff);
    }
    this.failures.push({ lease, error, json: JSON.stringify(info), retryDelayMs });
  }

  private onLeasesLost(ids: string[]): void {
    for (const id of ids) {
      const lease = this.leases.get(id);
      if (!lease) continue;
      this.leases.delete(id);
      clearTimeout(lease.timer);
      const error = new LeaseLostError(id);
      abort(lease, error);
      this.safeEmit('lost', lease.task, error);
    }
  }

  // ---- closing ----

  private async shutDown(timeoutMs: number): Promise<void> {
    this.claiming = false;
    this.guard.dispose();
    await this.stopWaiting();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    // Claims already on their way bring leased tasks: they run (or are released below) like
    // the others, so wait for them before counting what is running.
    await Promise.race([Promise.all(this.trips), timedOut]);
    if (this.busy > 0) await Promise.race([new Promise<void>((resolve) => this.idleWaiters.push(resolve)), timedOut]);
    clearTimeout(timer);
    const deadline = Date.now() + Math.max(timeoutMs, 1_000);
    await this.releaseRemaining();
    await this.flushFinishes(deadline);
    await this.keeper.stop();
    clearTimeout(this.retryTimer);
    await this.client.hdel(this.keys.workers, this.id).catch(() => {});
    await closeClient(this.connection);
    await quit(this.blocker);
    this.safeEmit('closed');
  }

  /** Leases of handlers still running at the close deadline go back to the queue. */
  private async releaseRemaining(): Promise<void> {
    const remaining = [...this.leases.values()];
    if (!remaining.length) return;
    this.leases.clear();
    for (const lease of remaining) {
      clearTimeout(lease.timer);
      abort(lease, new ClosedError('worker'));
    }
    const pairs = remaining.flatMap((lease) => [lease.task.id, lease.token]);
    const { keys } = this;
    const pipeline = this.client.pipeline();
    pipeScript(pipeline, 'release', [keys.active, keys.wake], [keys.base, ...pairs]);
    // If this fails, the leases simply expire and the tasks run again elsewhere.
    await pipeline.exec().catch((error: Error) => this.report(error));
  }

  private async flushFinishes(deadline: number): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    while (Date.now() < deadline) {
      if (this.trips.size) {
        await Promise.all(this.trips);
        continue;
      }
      if (!this.completions.length && !this.failures.length) return;
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      await this.pump();
    }
  }

  // ---- reporting ----

  private describe(): Record<string, unknown> {
    return {
      id: this.id,
      queue: this.queue,
      host: hostname(),
      pid: process.pid,
      concurrency: this.options.concurrency,
      running: this.busy,
      tasks: [...this.leases.keys()],
      leaseMs: this.options.leaseMs,
      startedAt: this.startedAt,
    };
  }

  private report(reported: Error): void {
    const error = typedReplyError(reported) ?? reported; // OOM, refused credentials
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.error(`[errand] worker ${this.id} (queue "${this.queue}"): ${error.message}`);
  }

  /** Listeners are user code: one that throws must not break the loop. */
  private safeEmit<K extends keyof WorkerEvents<P, R>>(event: K, ...args: WorkerEvents<P, R>[K]): void {
    try {
      (this.emit as (event: K, ...args: WorkerEvents<P, R>[K]) => boolean)(event, ...args);
    } catch (error) {
      this.report(error as Error);
    }
  }
}
