/**
 * What a handler is given: the task (its payload parsed; for an isolated handler the worker
 * parses it only if an event listener reads it) and its context, the signal that tells it
 * to stop and the ways it reports while it runs (progress and log lines, written by
 * task-notes.ts). The handler runner makes one of each per attempt.
 */
import { MAX_PROGRESS_BYTES } from '../config.js';
import { encodeJson } from '../json.js';
import type { ClaimedTask } from '../redis/queue-scripts.js';
import type { ActiveTask } from './task.js';
import type { TaskNotes } from './task-notes.js';
import type { ChildOutcome } from '../flows/children.js';

export interface HandlerContext {
  /** Aborted when the task times out, its lease is lost (cancelled, expired) or the worker closes. */
  signal: AbortSignal;
  /**
   * Reports how far the task got: any JSON value up to 4 KiB (a number from 0 to 100 shows
   * as a bar in the dashboard). Stored with the task for its current attempt and announced
   * to its watchers; calls in a tight loop are coalesced (the latest value wins, a few
   * writes a second). Throws ValidationError or PayloadTooLargeError for a bad value.
   */
  progress(value: unknown): void;
  /**
   * Appends a line to the task's log, stamped with the time (Redis clock) and the attempt.
   * A task's log keeps its last 1,000 lines and 64 KiB (the oldest go first, counted); a
   * line over 2 KiB is cut. Read with `queue.logs(id)`.
   */
  log(message: string): void;
  /**
   * A flow parent's children (src/flows), keyed by `<queue>/<id>`: each one's final state
   * and its result or error. Under the 'ignore' policy failed and cancelled children are
   * left out. Empty for a task without children.
   */
  children(): Promise<Record<string, ChildOutcome>>;
}

export type Handler<P, R> = (task: ActiveTask<P>, context: HandlerContext) => R | Promise<R>;

/** What a context needs of its lease (the runner's Lease). */
interface NotingLease<P> {
  task: ActiveTask<P>;
  token: string;
  controller: AbortController | undefined;
  noted: boolean;
}

/**
 * A handler's context for one lease. What a handler does not use costs nothing: the
 * AbortController is made on first use of `signal` (most handlers never look), and
 * `progress` and `log` are made when read (bound, so `async (task, { log }) => ...` works).
 */
export class LeaseContext<P> implements HandlerContext {
  constructor(
    private readonly lease: NotingLease<P>,
    private readonly notes: TaskNotes,
    private readonly readChildren?: (id: string) => Promise<Record<string, ChildOutcome>>,
  ) {}

  get children(): () => Promise<Record<string, ChildOutcome>> {
    return () => (this.readChildren ? this.readChildren(this.lease.task.id) : Promise.resolve({}));
  }

  get signal(): AbortSignal {
    this.lease.controller ??= new AbortController();
    return this.lease.controller.signal;
  }

  get progress(): (value: unknown) => void {
    return (value) => this.note(encodeJson(value, 'progress', MAX_PROGRESS_BYTES), true);
  }

  get log(): (message: string) => void {
    return (message) => this.note(typeof message === 'string' ? message : String(message), false);
  }

  /** Also the isolated handlers' way in (their values arrive encoded). */
  note(text: string, progress: boolean): void {
    this.lease.noted = true;
    const { task, token } = this.lease;
    if (progress) this.notes.progress(task.id, token, text);
    else this.notes.log(task.id, token, text);
  }
}

/** The task a handler gets, as events see it in the worker of an isolated handler: its payload is parsed only if read there. */
export class IsolatedTask<P> implements ActiveTask<P> {
  readonly id: string;
  readonly queue: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly createdAt: number;
  group?: string;
  private parsed: { value: P } | undefined;

  constructor(
    queue: string,
    claimed: ClaimedTask,
    readonly payloadJson: string,
  ) {
    this.id = claimed.id;
    this.queue = queue;
    this.attempt = claimed.attempt;
    this.maxAttempts = claimed.maxAttempts;
    this.createdAt = claimed.createdAt;
  }

  get payload(): P {
    this.parsed ??= { value: JSON.parse(this.payloadJson) as P };
    return this.parsed.value;
  }
}

