/**
 * The pool of threads or processes that run a worker's handlers in isolation (the
 * `isolation` option), used by the handler runner in place of calling a handler function.
 *
 * Responsible for: one task at a time per thread or process, started when a task needs
 * one and kept for the next (at most the worker's concurrency, since the runner never runs
 * more tasks than that); handing each task over as its stored JSON; forwarding progress
 * and log lines; aborts: a timeout terminates the handler's thread or process at once, a
 * lost lease or a close aborts its signal and terminates it if it has not ended within
 * ABORT_GRACE_MS; turning the end of a thread or process during a task into that task's
 * outcome (HandlerCrashedError, or the timeout that ended it), so only that attempt fails;
 * and ending them all at close.
 *
 * Each run's promise settles only when its thread or process is done with the task (it
 * answered, or it has ended), so the runner's slot frees only then.
 */
import { HandlerCrashedError, HandlerTimeoutError, RetryAfterError, UnrecoverableError } from '../../errors.js';
import { Executor, type ExitInfo, type IsolationKind } from './executor.js';
import { toRecord, type ErrorRecord, type FromRuntime, type RunMessage } from './protocol.js';

/** How long an aborted handler (lost lease) may take to end by itself before it is terminated. */
export const ABORT_GRACE_MS = 1_000;

export type IsolatedOutcome = { ok: true; json: string } | { ok: false; error: Error };

export interface IsolationPoolOptions {
  kind: IsolationKind;
  handler: URL;
  queue: string;
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
  executor: Slot;
  resolve(outcome: IsolatedOutcome): void;
  /** Why the pool ended it, if it did. */
  reason: Error | undefined;
  graceTimer: NodeJS.Timeout | undefined;
}

interface Slot {
  executor: Executor;
  ready: boolean;
  /** The task it runs, or waits to run once ready. */
  run: Run | undefined;
  /** Sent once ready. */
  queued: RunMessage | undefined;
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
  private closed = false;

  constructor(private readonly options: IsolationPoolOptions) {}

  /** Threads or processes alive now. */
  get size(): number {
    return this.slots.size;
  }

  /** Process ids of the processes running tasks now, by task id (process isolation only). */
  pids(): Map<string, number> {
    const pids = new Map<string, number>();
    for (const [id, run] of this.runs) if (run.executor.executor.pid !== undefined) pids.set(id, run.executor.executor.pid);
    return pids;
  }

  /** Runs one task; never rejects: a failure of any kind is an outcome. */
  run(task: Omit<RunMessage, 't'>): Promise<IsolatedOutcome> {
    return new Promise<IsolatedOutcome>((resolve) => {
      const slot = this.idle.pop() ?? this.spawn();
      const run: Run = { id: task.id, executor: slot, resolve, reason: undefined, graceTimer: undefined };
      slot.run = run;
      this.runs.set(task.id, run);
      const message: RunMessage = { t: 'run', ...task };
      if (slot.ready) slot.executor.send(message);
      else slot.queued = message;
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
    if (reason instanceof HandlerTimeoutError) {
      run.executor.executor.terminate();
      return;
    }
    run.executor.executor.send({ t: 'abort', id, reason: toRecord(reason) });
    run.graceTimer = setTimeout(() => run.executor.executor.terminate(), ABORT_GRACE_MS);
  }

  /** Ends every thread or process (their tasks' outcomes are failures nobody records). */
  async close(): Promise<void> {
    this.closed = true;
    const slots = [...this.slots];
    for (const slot of slots) slot.executor.terminate();
    await Promise.all(slots.map((slot) => slot.executor.gone));
  }

  private spawn(): Slot {
    const { kind, handler, memoryLimitMb, queue, maxResultBytes, maxProgressBytes } = this.options;
    const slot: Slot = { executor: undefined as unknown as Executor, ready: false, run: undefined, queued: undefined };
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
        if (slot.queued) slot.executor.send(slot.queued);
        slot.queued = undefined;
        return;
      case 'load-failed': {
        // The module itself is broken (or exports no handler): every task would fail the
        // same way, so say it once where operators look, and fail the task with it.
        const error = fromRecord(message.error);
        this.options.report(new Error(`isolated handler module ${this.options.handler.href} failed to load: ${error.message}`, { cause: error }));
        slot.executor.terminate();
        if (run) this.settle(slot, { ok: false, error });
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
        this.settle(slot, message.t === 'done' ? { ok: true, json: message.json } : { ok: false, error: fromRecord(message.error) });
        // Aborted, or the pool is closing: it is not trusted with another task.
        if (run.reason || this.closed) slot.executor.terminate();
        else this.idle.push(slot);
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
    const at = this.idle.indexOf(slot);
    if (at >= 0) this.idle.splice(at, 1);
    const run = slot.run;
    if (run) this.settle(slot, { ok: false, error: run.reason ?? this.crash(run.id, info) });
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
