/**
 * Runs a worker's handlers, one per leased task.
 *
 * Responsible for: the leases the worker holds and their abort signals; starting a handler
 * for each claimed task, in this process or, with `isolation`, in the isolation pool's
 * threads or processes (isolation/pool.ts); the handler's context (signal, progress and log
 * lines, written by task-notes.ts); timeouts (abort the handler's signal, or terminate an
 * isolated one, and fail the attempt); turning each outcome into a finish for the pump (the
 * result as JSON, or the error with its retry delay from the task's backoff), once what
 * the handler noted is written; leases the heartbeat found lost; the leases still held at
 * close; a tracing span per attempt when OpenTelemetry is there (tracing.ts). A slot frees
 * only when its handler's promise settles (an isolated one: when its thread or process is
 * done with it), even after a timeout or a lost lease, so a handler that ignores its signal
 * never oversubscribes the worker.
 */
import type { BackoffOptions } from '../config.js';
import { ClosedError, describeError, HandlerTimeoutError, LeaseLostError, RateLimitedError, RetryAfterError, UnrecoverableError } from '../errors.js';
import { encodeJson } from '../json.js';
import type { ClaimedTask, HeldLease } from '../redis/queue-scripts.js';
import { startProcessSpan, type WorkSpan } from '../tracing.js';
import { backoffDelayMs } from './backoff.js';
import { IsolatedTask, LeaseContext, type Handler } from './handler-context.js';
import type { IsolationPool } from './isolation/pool.js';
import type { ActiveTask } from './task.js';
import type { TaskNotes } from './task-notes.js';
import { parseRef } from '../flows/hand-over.js';
import type { ChildOutcome } from '../flows/children.js';

export type { Handler, HandlerContext } from './handler-context.js';

export interface Lease<P> {
  task: ActiveTask<P>;
  token: string;
  controller: AbortController | undefined;
  backoff: BackoffOptions | undefined;
  timer: NodeJS.Timeout | undefined;
  /** The handler reported progress or logged: its finish waits until that is written. */
  noted: boolean;
  span: WorkSpan | undefined;
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
  /** The timeout of tasks that have none of their own. */
  timeoutMs: number | undefined;
  notes: TaskNotes;
  /** A flow parent's children, for `context.children()`. */
  children(id: string): Promise<Record<string, ChildOutcome>>;
  /** Set with `isolation`: the threads or processes that run the handlers. */
  pool: IsolationPool | undefined;
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

export class HandlerRunner<P, R> {
  /** Handlers running now. */
  busy = 0;
  private readonly leases = new Map<string, Lease<P>>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    /** Undefined with isolation: the pool runs the handler module. */
    private readonly handler: Handler<P, R> | undefined,
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
    const { pool } = this.options;
    let task: ActiveTask<P>;
    if (pool) {
      task = new IsolatedTask<P>(this.options.queue, claimed, claimed.payloadJson);
    } else {
      task = {
        id: claimed.id,
        queue: this.options.queue,
        payload: JSON.parse(claimed.payloadJson) as P,
        attempt: claimed.attempt,
        maxAttempts: claimed.maxAttempts,
        createdAt: claimed.createdAt,
      };
    }
    if (claimed.group) task.group = claimed.group;
    if (claimed.parent) task.parent = parseRef(claimed.parent);
    if (claimed.chained) task.previous = pool ? JSON.parse(claimed.payloadJson) : task.payload;
    const backoff = claimed.backoffJson ? (JSON.parse(claimed.backoffJson) as BackoffOptions) : undefined;
    const span = startProcessSpan(this.options.queue, task, claimed.traceparent);
    const lease: Lease<P> = { task, token: claimed.token, controller: undefined, backoff, timer: undefined, noted: false, span };
    this.leases.set(task.id, lease);
    this.busy++;
    const timeoutMs = claimed.timeoutMs ?? this.options.timeoutMs;
    if (timeoutMs !== undefined) {
      lease.timer = setTimeout(() => {
        const error = new HandlerTimeoutError(task.id, timeoutMs);
        this.abort(lease, error);
        void this.finish(lease, false, error);
      }, timeoutMs);
    }
    this.options.onActive(task);
    void this.run(lease, claimed);
  }

  /** The heartbeat found these leases lost: abort their handlers; their outcomes are dropped. */
  lose(ids: readonly string[]): void {
    for (const id of ids) {
      const lease = this.leases.get(id);
      if (!lease) continue;
      this.leases.delete(id);
      clearTimeout(lease.timer);
      const error = new LeaseLostError(id);
      this.abort(lease, error);
      lease.span?.end('lost', error);
      this.options.onLost(lease.task, error);
    }
  }

  /** At close: the leases of handlers still running, their signals aborted; their outcomes will be dropped. */
  surrender(): HeldLease[] {
    const remaining = [...this.leases.values()];
    this.leases.clear();
    for (const lease of remaining) {
      clearTimeout(lease.timer);
      const error = new ClosedError('worker');
      this.abort(lease, error);
      lease.span?.end('released', error);
    }
    return remaining.map((lease) => ({ id: lease.task.id, token: lease.token }));
  }

  /** Ends the isolated handlers' threads or processes (after surrender()). */
  async close(): Promise<void> {
    await this.options.pool?.close();
  }

  /** Aborts a lease's signal, if its handler ever asked for one (a later ask sees it aborted); an isolated handler is told, or terminated. */
  private abort(lease: Lease<P>, reason: Error): void {
    lease.controller ??= new AbortController();
    lease.controller.abort(reason);
    this.options.pool?.abort(lease.task.id, reason);
  }

  private async run(lease: Lease<P>, claimed: ClaimedTask): Promise<void> {
    const context = new LeaseContext(lease, this.options.notes, this.options.children);
    let recorded: Promise<void> | undefined;
    const { pool } = this.options;
    if (pool) {
      const { id, attempt, maxAttempts, createdAt, group } = claimed;
      const flow: { parent?: string; chained?: boolean; children?: Record<string, unknown> } = {};
      if (claimed.parent) flow.parent = claimed.parent;
      if (claimed.chained) flow.chained = true;
      let unread = false;
      if (claimed.hasChildren) {
        try {
          flow.children = await this.options.children(id);
        } catch (error) {
          // Not read: the attempt fails and is retried like any other (Redis is down).
          unread = true;
          recorded = this.finish(lease, false, error);
        }
      }
      const outcome = unread ? undefined : await pool.run({ id, payload: claimed.payloadJson, attempt, maxAttempts, createdAt, group, ...flow });
      if (outcome) recorded = outcome.ok ? this.finish(lease, true, undefined, outcome.json) : this.finish(lease, false, outcome.error);
    } else {
      try {
        const value = await (lease.span ? lease.span.run(() => this.handler!(lease.task, context)) : this.handler!(lease.task, context));
        recorded = this.finish(lease, true, value);
      } catch (error) {
        recorded = this.finish(lease, false, error);
      }
    }
    // The slot frees once the outcome is handed on: a close that finds no handler running
    // then has every outcome to record.
    if (recorded) await recorded;
    this.busy--;
    if (this.busy === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    this.options.onSlotFreed();
  }

  /** An isolated handler's progress or log line, for the lease of its task. */
  noteFromIsolated(id: string, text: string, progress: boolean): void {
    const lease = this.leases.get(id);
    if (lease) new LeaseContext(lease, this.options.notes, this.options.children).note(text, progress);
  }

  /**
   * Hands the outcome on, once what the handler noted is written (a promise then; else at
   * once). `encoded`: an isolated handler's result, encoded where it ran.
   */
  private finish(lease: Lease<P>, ok: boolean, outcome: unknown, encoded?: string): Promise<void> | undefined {
    if (this.leases.get(lease.task.id) !== lease) return undefined; // timed out, lost or released already
    this.leases.delete(lease.task.id);
    clearTimeout(lease.timer);
    let finish: Finish<P> | undefined;
    if (ok) {
      try {
        finish = encoded !== undefined ? isolatedCompletion(lease, encoded) : { kind: 'done', lease, json: outcome === undefined ? '' : encodeJson(outcome, 'result', this.options.maxResultBytes), value: outcome };
      } catch (error) {
        // A result that cannot be stored will not become storable by retrying.
        outcome = new UnrecoverableError((error as Error).message, { cause: error });
      }
    }
    finish ??= this.failure(lease, outcome);
    if (lease.span) {
      const ended = finish.kind === 'done' ? 'completed' : finish.kind === 'deferred' || finish.retryDelayMs >= 0 ? 'retry' : 'failed';
      lease.span.end(ended, finish.kind === 'done' ? undefined : finish.error);
    }
    const written = lease.noted ? this.options.notes.settled(lease.task.id) : undefined;
    if (!written) {
      this.options.onFinish(finish);
      return undefined;
    }
    const ready = finish;
    return written.then(() => this.options.onFinish(ready));
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

/** An isolated handler's completion: its result was encoded where it ran, and is parsed here only if an event listener reads it. */
function isolatedCompletion<P>(lease: Lease<P>, json: string): Finish<P> {
  let parsed: { value: unknown } | undefined;
  return {
    kind: 'done',
    lease,
    json,
    get value() {
      parsed ??= { value: json === '' ? undefined : JSON.parse(json) };
      return parsed.value;
    },
  };
}
