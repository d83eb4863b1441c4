/**
 * The pool of threads or processes that run a worker's handlers in isolation (the
 * `isolation` option), used by the handler runner in place of calling a handler function.
 *
 * Responsible for: one task at a time per thread or process; how many there are (see
 * grow(): another is started when a task has waited SPAWN_AFTER_MS for a free one and the
 * tasks waiting would take longer to get through than starting one takes, a few at a time,
 * up to the worker's concurrency; they are kept for the next tasks), so quick handlers
 * share a few threads or processes while slow ones get one each; handing each task over as
 * its stored JSON, to the first thread or process free; forwarding progress
 * and log lines; aborts: a timeout terminates the handler's thread or process at once, a
 * lost lease or a close aborts its signal and terminates it if it has not ended within
 * ABORT_GRACE_MS; turning the end of a thread or process during a task into that task's
 * outcome (HandlerCrashedError, or the timeout that ended it), so only that attempt fails;
 * and ending them all at close.
 *
 * Each run's promise settles only when its thread or process is done with the task (it
 * answered, or it has ended), so the runner's slot frees only then.
 */
import { availableParallelism } from 'node:os';
import { HandlerCrashedError, HandlerTimeoutError, RetryAfterError, UnrecoverableError } from '../../errors.js';
import { Executor, type ExitInfo, type IsolationKind } from './executor.js';
import { toRecord, type ErrorRecord, type FromRuntime, type RunMessage } from './protocol.js';

/** How long an aborted handler (lost lease) may take to end by itself before it is terminated. */
export const ABORT_GRACE_MS = 1_000;
/**
 * How long a task waits for a free thread or process before another is started for it:
 * handlers that take microseconds are served by the ones there are (each thread or process
 * more costs memory, and a CPU to switch to), handlers that take longer get one each.
 */
export const SPAWN_AFTER_MS = 5;
/** Threads or processes starting at once, at most: starting one takes a CPU for a while. */
const MAX_STARTING = Math.max(2, 2 * availableParallelism());
/** Weight of the latest measure in the running averages of run and start times. */
const AVERAGE_WEIGHT = 0.2;

export type IsolatedOutcome = { ok: true; json: string } | { ok: false; error: Error };

export interface IsolationPoolOptions {
  kind: IsolationKind;
  handler: URL;
  queue: string;
  /** Most threads or processes at once: the worker's concurrency. */
  size: number;
  memoryLimitMb: number | undefined;
  maxResultBytes: number;
  maxProgressBytes: number;
  onProgress(id: string, json: string): void;
  onLog(id: string, text: string): void;
  /** A problem of the pool itself (a handler module that does not load). */
  report(error: Error): void;
}

interface Run {
  id: string;
  message: RunMessage;
  /** Unset while it waits for a free thread or process. */
  executor: Slot | undefined;
  /** When it began to wait, and when it was handed to its thread or process (performance.now()). */
  queuedAt: number;
  sentAt: number;
  resolve(outcome: IsolatedOutcome): void;
  /** Why the pool ended it, if it did. */
  reason: Error | undefined;
  graceTimer: NodeJS.Timeout | undefined;
}

interface Slot {
  executor: Executor;
  ready: boolean;
  startedAt: number;
  /** The task it runs. */
  run: Run | undefined;
}

/** A handler error as the worker records it: the handler signals rebuilt as themselves. */
function fromRecord(record: ErrorRecord): Error {
  const error =
    record.kind === 'unrecoverable'
      ? new UnrecoverableError(record.message)
      : record.kind === 'retry-after'
        ? new RetryAfterError(record.delayMs ?? 0, record.message)
        : new Error(record.message);
  error.name = record.name;
  if (record.stack) error.stack = record.stack;
  else delete error.stack; // not the worker's stack: the handler's is unknown
  return error;
}

export class IsolationPool {
  private readonly idle: Slot[] = [];
  private readonly slots = new Set<Slot>();
  private readonly runs = new Map<string, Run>();
  /** Tasks waiting for a free thread or process, oldest first. */
  private readonly waiting: Run[] = [];
  private starting = 0;
  private growTimer: NodeJS.Timeout | undefined;
  /** Running averages, in ms: from handing a task over to its outcome, and from starting a thread or process to its being ready. */
  private runMs: number | undefined;
  private startMs: number | undefined;
  private closed = false;

  constructor(private readonly options: IsolationPoolOptions) {}

  /** Runs one task; never rejects: a failure of any kind is an outcome. */
  run(task: Omit<RunMessage, 't'>): Promise<IsolatedOutcome> {
    return new Promise<IsolatedOutcome>((resolve) => {
      const run: Run = { id: task.id, message: { t: 'run', ...task }, executor: undefined, queuedAt: 0, sentAt: 0, resolve, reason: undefined, graceTimer: undefined };
      this.runs.set(task.id, run);
      const slot = this.idle.pop();
      if (slot) {
        this.assign(slot, run);
        return;
      }
      run.queuedAt = performance.now();
      this.waiting.push(run);
      this.grow();
    });
  }

  /**
   * Aborts a task's handler: a timeout terminates it now; anything else (a lost lease, a
   * close) aborts its signal and terminates it after ABORT_GRACE_MS if it has not ended.
   */
  abort(id: string, reason: Error): void {
    const run = this.runs.get(id);
    if (!run || run.reason) return;
    run.reason = reason;
    const slot = run.executor;
    if (!slot) {
      // Still waiting for a thread or process: it never started.
      this.waiting.splice(this.waiting.indexOf(run), 1);
      this.runs.delete(id);
      run.resolve({ ok: false, error: reason });
      return;
    }
    if (reason instanceof HandlerTimeoutError) {
      slot.executor.terminate();
      return;
    }
    slot.executor.send({ t: 'abort', id, reason: toRecord(reason) });
    run.graceTimer = setTimeout(() => slot.executor.terminate(), ABORT_GRACE_MS);
  }

  /** Ends every thread or process (their tasks' outcomes are failures nobody records). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.growTimer);
    for (const run of this.waiting.splice(0)) {
      this.runs.delete(run.id);
      run.resolve({ ok: false, error: run.reason ?? new Error('the worker closed before the task started') });
    }
    const slots = [...this.slots];
    for (const slot of slots) slot.executor.terminate();
    await Promise.all(slots.map((slot) => slot.executor.gone));
  }

  /**
   * Starts threads or processes for waiting tasks: the first at once (there is none), then
   * one per task that has waited SPAWN_AFTER_MS, MAX_STARTING at a time, up to `size`.
   */
  private grow(): void {
    if (this.closed || this.growTimer || !this.waiting.length) return;
    if (this.slots.size >= this.options.size || this.starting >= MAX_STARTING) return;
    if (this.slots.size === 0) {
      this.spawn();
      this.grow();
      return;
    }
    const waitedMs = performance.now() - this.waiting[0]!.queuedAt;
    this.growTimer = setTimeout(
      () => {
        this.growTimer = undefined;
        const oldest = this.waiting[0];
        if (!oldest || performance.now() - oldest.queuedAt < SPAWN_AFTER_MS) return; // the next release or run looks again
        if (this.slots.size < this.options.size && this.starting < MAX_STARTING && this.worthStarting()) {
          this.spawn();
          this.grow();
        } else if (!this.closed) {
          // Not worth it yet: look again in about the time one takes to start.
          this.growTimer = setTimeout(() => {
            this.growTimer = undefined;
            this.grow();
          }, Math.max(SPAWN_AFTER_MS, this.startMs ?? 0));
        }
      },
      Math.max(0, SPAWN_AFTER_MS - waitedMs),
    );
  }

  /**
   * Whether the tasks waiting would take longer to get through on the threads or processes
   * there are than starting one more takes (while there is no measure yet: yes).
   */
  private worthStarting(): boolean {
    if (this.runMs === undefined || this.startMs === undefined) return true;
    // A run takes at least what the runs going on have taken so far (tasks can get slower).
    const now = performance.now();
    let runMs = this.runMs;
    let soonest = Infinity;
    for (const slot of this.slots) if (slot.run) soonest = Math.min(soonest, now - slot.run.sentAt);
    if (soonest !== Infinity) runMs = Math.max(runMs, soonest);
    const serving = Math.max(1, this.slots.size - this.starting);
    return (this.waiting.length * runMs) / serving > this.startMs;
  }

  private assign(slot: Slot, run: Run): void {
    slot.run = run;
    run.executor = slot;
    run.sentAt = performance.now();
    slot.executor.send(run.message);
  }

  /** A thread or process is free: the oldest waiting task is its, or it waits for one. */
  private release(slot: Slot): void {
    const next = this.waiting.shift();
    if (next) this.assign(slot, next);
    else this.idle.push(slot);
    if (this.waiting.length) this.grow();
  }

  private average(current: number | undefined, measured: number): number {
    return current === undefined ? measured : current + AVERAGE_WEIGHT * (measured - current);
  }

  private spawn(): Slot {
    const { kind, handler, memoryLimitMb, queue, maxResultBytes, maxProgressBytes } = this.options;
    this.starting++;
    const slot: Slot = { executor: undefined as unknown as Executor, ready: false, startedAt: performance.now(), run: undefined };
    slot.executor = new Executor({
      kind,
      handler,
      memoryLimitMb,
      onMessage: (message) => this.onMessage(slot, message),
      onExit: (info) => this.onExit(slot, info),
    });
    this.slots.add(slot);
    slot.executor.send({ t: 'init', handler: handler.href, queue, maxResultBytes, maxProgressBytes });
    return slot;
  }

  private onMessage(slot: Slot, message: FromRuntime): void {
    const run = slot.run;
    switch (message.t) {
      case 'ready':
        slot.ready = true;
        this.starting--;
        this.startMs = this.average(this.startMs, performance.now() - slot.startedAt);
        this.release(slot);
        this.grow();
        return;
      case 'load-failed': {
        // The module itself is broken (or exports no handler): every task would fail the
        // same way, so say it where operators look, and fail the oldest waiting task with it.
        const error = fromRecord(message.error);
        this.options.report(new Error(`isolated handler module ${this.options.handler.href} failed to load: ${error.message}`, { cause: error }));
        this.starting--;
        slot.ready = true; // not starting any more; it ends now
        slot.executor.terminate();
        const failed = this.waiting.shift();
        if (failed) {
          this.runs.delete(failed.id);
          failed.resolve({ ok: false, error });
        }
        return;
      }
      case 'progress':
        if (run?.id === message.id) this.options.onProgress(message.id, message.json);
        return;
      case 'log':
        if (run?.id === message.id) this.options.onLog(message.id, message.text);
        return;
      case 'done':
      case 'failed':
        if (run?.id !== message.id) return;
        this.runMs = this.average(this.runMs, performance.now() - run.sentAt);
        this.settle(slot, message.t === 'done' ? { ok: true, json: message.json } : { ok: false, error: fromRecord(message.error) });
        // Aborted, or the pool is closing: it is not trusted with another task.
        if (run.reason || this.closed) slot.executor.terminate();
        else this.release(slot);
        return;
    }
  }

  private settle(slot: Slot, outcome: IsolatedOutcome): void {
    const run = slot.run;
    if (!run) return;
    slot.run = undefined;
    clearTimeout(run.graceTimer);
    this.runs.delete(run.id);
    run.resolve(outcome);
  }

  private onExit(slot: Slot, info: ExitInfo): void {
    this.slots.delete(slot);
    if (!slot.ready) this.starting--; // ended while starting
    const at = this.idle.indexOf(slot);
    if (at >= 0) this.idle.splice(at, 1);
    const run = slot.run;
    if (run) this.settle(slot, { ok: false, error: run.reason ?? this.crash(run.id, info) });
    this.grow(); // tasks that waited for it get another
  }

  private crash(id: string, info: ExitInfo): HandlerCrashedError {
    const { kind, memoryLimitMb } = this.options;
    if (info.outOfMemory) {
      return new HandlerCrashedError(id, kind, `ran out of memory (memoryLimitMb ${memoryLimitMb})`, 'raise memoryLimitMb, or make the handler hold less at once');
    }
    if (info.error) return new HandlerCrashedError(id, kind, `ended on an error thrown outside the handler's promise: ${info.error.message}`, 'catch it, or await the work that throws it');
    if (info.signal) return new HandlerCrashedError(id, kind, `was killed by ${info.signal}`, 'something outside Errand ended it (the system OOM killer, an operator); the task runs again if attempts remain');
    if (info.terminated) return new HandlerCrashedError(id, kind, 'was ended by the worker', 'the worker closed or the lease was lost');
    return new HandlerCrashedError(id, kind, `exited with code ${info.code}`, 'the handler, or a library it uses, ended its process (process.exit): throw an error instead');
  }
}
