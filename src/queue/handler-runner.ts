/**
 * Runs a worker's handlers, one per leased task.
 *
 * Responsible for: the leases the worker holds and their abort signals; starting a handler
 * for each claimed task; timeouts (abort the handler's signal, fail the attempt); turning
 * each outcome into a finish for the pump (the result as JSON, or the error with its retry
 * delay from the task's backoff); leases the heartbeat found lost; the leases still held at
 * close. A slot frees only when its handler's promise settles, even after a timeout or a
 * lost lease, so a handler that ignores its signal never oversubscribes the worker.
 */
import type { BackoffOptions } from '../config.js';
import { ClosedError, describeError, HandlerTimeoutError, LeaseLostError, RateLimitedError, RetryAfterError, UnrecoverableError } from '../errors.js';
import { encodeJson } from '../json.js';
import type { ClaimedTask, HeldLease } from '../redis/queue-scripts.js';
import { backoffDelayMs } from './backoff.js';
import type { ActiveTask } from './task.js';

export interface HandlerContext {
  /** Aborted when the task times out, its lease is lost (cancelled, expired) or the worker closes. */
  signal: AbortSignal;
}

export type Handler<P, R> = (task: ActiveTask<P>, context: HandlerContext) => R | Promise<R>;

export interface Lease<P> {
  task: ActiveTask<P>;
  token: string;
  controller: AbortController | undefined;
  backoff: BackoffOptions | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** A handler's outcome, waiting to be recorded. */
export type Finish<P> =
  | { kind: 'done'; lease: Lease<P>; json: string; value: unknown }
  | { kind: 'failed'; lease: Lease<P>; error: Error; json: string; retryDelayMs: number }
  /** RateLimitedError: back in line without using an attempt, its scope held for `delayMs`. */
  | { kind: 'deferred'; lease: Lease<P>; error: RateLimitedError; scope: 'queue' | 'group'; delayMs: number };

export interface HandlerRunnerOptions<P> {
  queue: string;
  maxResultBytes: number;
  /** A handler started. */
  onActive(task: ActiveTask<P>): void;
  /** A handler's outcome, to record. */
  onFinish(finish: Finish<P>): void;
  /** The worker's lease on a task was lost: its outcome will not be recorded. */
  onLost(task: ActiveTask<P>, error: LeaseLostError): void;
  /** A handler's promise settled: its slot is free. */
  onSlotFreed(): void;
}

const MAX_STACK_CHARS = 4_000;
/** The longest hold a RateLimitedError may ask for: a day. */
const MAX_HOLD_MS = 24 * 3_600_000;

/** Aborts a lease's signal, if its handler ever asked for one (a later ask sees it aborted). */
function abort(lease: Lease<unknown>, reason: Error): void {
  lease.controller ??= new AbortController();
  lease.controller.abort(reason);
}

export class HandlerRunner<P, R> {
  /** Handlers running now. */
  busy = 0;
  private readonly leases = new Map<string, Lease<P>>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly handler: Handler<P, R>,
    private readonly options: HandlerRunnerOptions<P>,
  ) {}

  /** The leases held now, for the heartbeat. */
  held(): HeldLease[] {
    return [...this.leases.values()].map((lease) => ({ id: lease.task.id, token: lease.token }));
  }

  /** Ids of the tasks held now. */
  heldIds(): string[] {
    return [...this.leases.keys()];
  }

  /** Resolves once no handler runs. */
  whenIdle(): Promise<void> {
    if (this.busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  start(claimed: ClaimedTask): void {
    const task: ActiveTask<P> = {
      id: claimed.id,
      queue: this.options.queue,
      payload: JSON.parse(claimed.payloadJson) as P,
      attempt: claimed.attempt,
      maxAttempts: claimed.maxAttempts,
      createdAt: claimed.createdAt,
    };
    if (claimed.group) task.group = claimed.group;
    const backoff = claimed.backoffJson ? (JSON.parse(claimed.backoffJson) as BackoffOptions) : undefined;
    const lease: Lease<P> = { task, token: claimed.token, controller: undefined, backoff, timer: undefined };
    this.leases.set(task.id, lease);
    this.busy++;
    const { timeoutMs } = claimed;
    if (timeoutMs !== undefined) {
      lease.timer = setTimeout(() => {
        const error = new HandlerTimeoutError(task.id, timeoutMs);
        abort(lease, error);
        this.finish(lease, false, error);
      }, timeoutMs);
    }
    this.options.onActive(task);
    void this.run(lease);
  }

  /** The heartbeat found these leases lost: abort their handlers; their outcomes are dropped. */
  lose(ids: readonly string[]): void {
    for (const id of ids) {
      const lease = this.leases.get(id);
      if (!lease) continue;
      this.leases.delete(id);
      clearTimeout(lease.timer);
      const error = new LeaseLostError(id);
      abort(lease, error);
      this.options.onLost(lease.task, error);
    }
  }

  /** At close: the leases of handlers still running, their signals aborted; their outcomes will be dropped. */
  surrender(): HeldLease[] {
    const remaining = [...this.leases.values()];
    this.leases.clear();
    for (const lease of remaining) {
      clearTimeout(lease.timer);
      abort(lease, new ClosedError('worker'));
    }
    return remaining.map((lease) => ({ id: lease.task.id, token: lease.token }));
  }

  private async run(lease: Lease<P>): Promise<void> {
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
    this.busy--;
    if (this.busy === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    this.options.onSlotFreed();
  }

  private finish(lease: Lease<P>, ok: boolean, outcome: unknown): void {
    if (this.leases.get(lease.task.id) !== lease) return; // timed out, lost or released already
    this.leases.delete(lease.task.id);
    clearTimeout(lease.timer);
    if (ok) {
      try {
        const json = outcome === undefined ? '' : encodeJson(outcome, 'result', this.options.maxResultBytes);
        this.options.onFinish({ kind: 'done', lease, json, value: outcome });
        return;
      } catch (error) {
        // A result that cannot be stored will not become storable by retrying.
        outcome = new UnrecoverableError((error as Error).message, { cause: error });
      }
    }
    this.options.onFinish(this.failure(lease, outcome));
  }

  private failure(lease: Lease<P>, thrown: unknown): Finish<P> {
    if (thrown instanceof RateLimitedError) {
      const delayMs = Math.min(Math.max(0, Math.round(thrown.delayMs)), MAX_HOLD_MS);
      return { kind: 'deferred', lease, error: thrown, scope: thrown.scope, delayMs };
    }
    const error = thrown instanceof Error ? thrown : new Error(describeError(thrown).message);
    const info = describeError(error);
    if (info.stack && info.stack.length > MAX_STACK_CHARS) info.stack = info.stack.slice(0, MAX_STACK_CHARS);
    const { attempt, maxAttempts } = lease.task;
    let retryDelayMs = -1;
    if (!(error instanceof UnrecoverableError) && attempt < maxAttempts) {
      retryDelayMs = error instanceof RetryAfterError ? Math.max(0, Math.round(error.delayMs)) : backoffDelayMs(attempt, lease.backoff);
    }
    return { kind: 'failed', lease, error, json: JSON.stringify(info), retryDelayMs };
  }
}
