/**
 * Awaits task results without polling Redis per waiter.
 *
 * It listens to the queue's task events (task-events.ts: one subscription per queue, on a
 * pub/sub connection shared by the whole process), where scripts announce the ids of every
 * batch that reaches a final state. A
 * waiter first registers, then reads the task once (it may already be finished), then
 * waits for its id to be announced. After a reconnect, every pending waiter reads its task
 * again, since announcements published while the connection was down are not replayed.
 *
 * The read is skipped for a task this process created with a generated id while already
 * listening (a SentMark), the first time its result is awaited: no announcement of it can
 * have been missed since, unless the connection dropped (the mark's epoch tells) or it came
 * before the waiter registered. Outcomes announced with no waiter are remembered for that
 * case, in two generations (one is dropped every EARLY_OUTCOME_MS, or sooner when it holds
 * EARLY_OUTCOME_MAX); a mark older than what was dropped falls back to the read.
 * Generated ids only: they are never reused (the counter only goes up), where a caller's id
 * may name a new task while an outcome of its removed namesake is still on its way. Awaiting
 * a result just enqueued, the common case, then costs no round trip of its own.
 */
import type { RedisClient } from '../redis/scripts.js';
import { TASK_FIELDS as F, type QueueKeys } from '../redis/keys.js';
import { stateFromCode } from './states.js';
import type { TaskEvents } from './task-events.js';
import {
  ClosedError,
  TaskCancelledError,
  TaskFailedError,
  TaskNotFoundError,
  WaitTimeoutError,
  type TaskErrorInfo,
} from '../errors.js';

interface Waiter {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

const FINAL_EVENTS = new Set(['completed', 'failed', 'cancelled', 'removed']);
/** Generated ids are digits only and never reused; a caller's id may be (see onEvent). */
const GENERATED_ID = /^\d+$/;

/** How long, at least, an outcome announced before anyone waited for it is remembered. */
const EARLY_OUTCOME_MS = 2_000;
/** At most this many per generation: memory stays bounded whatever the queue's rate. */
const EARLY_OUTCOME_MAX = 50_000;
/** Announced results longer than this are not remembered (the task is read instead). */
const EARLY_RESULT_MAX_CHARS = 256;

/** Taken just before an enqueue is sent, while listening; see the top of this file. */
export interface SentMark {
  epoch: number;
  at: number;
}

/**
 * An outcome heard with no waiter: when (a task enqueued again under the same id after
 * this one was removed must not take it), and the announced result of a completed task
 * when short (else undefined: read the task).
 */
type EarlyOutcome = { at: number; result: string | undefined };

export class ResultWaiter {
  private listening = false;
  /** The subscription was confirmed at least once: marks may be handed out. */
  private live = false;
  /** Counts reconnections: a mark from an earlier epoch may have missed its announcement. */
  private epoch = 0;
  private readonly waiters = new Map<string, Set<Waiter>>();
  /**
   * For waited-for tasks with a caller's id: the createdAt of the task being waited for,
   * once a read saw it, and a completed result announced before that read answered.
   */
  private readonly incarnations = new Map<string, string>();
  private readonly announcedBeforeRead = new Map<string, { created: string; result: string }>();
  /** Outcomes announced with no waiter, in two generations; marks taken before `forgotBefore` may have lost theirs. */
  private early = new Map<string, EarlyOutcome>();
  private earlier = new Map<string, EarlyOutcome>();
  private earlySince = 0;
  private forgotBefore = 0;
  private closed = false;

  constructor(
    private readonly queue: string,
    private readonly keys: QueueKeys,
    private readonly client: RedisClient,
    private readonly events: () => TaskEvents,
  ) {}

  /** A mark for an enqueue about to be sent, if results are being listened to. */
  mark(): SentMark | undefined {
    return this.live ? { epoch: this.epoch, at: performance.now() } : undefined;
  }

  /**
   * Resolves with the task's result; rejects with a typed error if it did not complete.
   * `sent` is the mark taken when this process enqueued the task, if it did.
   */
  async wait(id: string, timeoutMs?: number, sent?: SentMark): Promise<unknown> {
    if (this.closed) throw new ClosedError('queue');
    let waiter!: Waiter;
    const settled = new Promise<unknown>((resolve, reject) => (waiter = { resolve, reject }));
    // It may be settled (timeout, close) before it is awaited below: that is not unhandled.
    settled.catch(() => {});
    this.add(id, waiter);
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => this.settle(id, waiter, undefined, new WaitTimeoutError(id, timeoutMs)), timeoutMs);
    }
    try {
      if (sent && this.live && sent.epoch === this.epoch && sent.at >= this.forgotBefore) {
        // Listening since before the task existed: its announcement is either still to
        // come (this waiter will hear it) or came already and is remembered.
        let early = this.early.get(id) ?? this.earlier.get(id);
        if (early && early.at <= sent.at) early = undefined;
        if (early?.result !== undefined) this.settle(id, waiter, early.result === '' ? undefined : JSON.parse(early.result));
        else if (early) await this.check([id]);
      } else {
        await this.subscribe();
        await this.check([id]);
      }
      return await settled;
    } finally {
      clearTimeout(timer);
      this.remove(id, waiter);
    }
  }

  /** Rejects every pending waiter and closes the subscription. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [id, set] of this.waiters) {
      for (const waiter of set) this.settle(id, waiter, undefined, new ClosedError('queue'));
    }
  }

  private add(id: string, waiter: Waiter): void {
    let set = this.waiters.get(id);
    if (!set) this.waiters.set(id, (set = new Set()));
    set.add(waiter);
  }

  private remove(id: string, waiter: Waiter): void {
    const set = this.waiters.get(id);
    set?.delete(waiter);
    if (set?.size === 0) {
      this.waiters.delete(id);
      this.incarnations.delete(id);
      this.announcedBeforeRead.delete(id);
    }
  }

  private settle(id: string, waiter: Waiter, value: unknown, error?: Error): void {
    this.remove(id, waiter);
    if (error) waiter.reject(error);
    else waiter.resolve(value);
  }

  private async subscribe(): Promise<void> {
    const events = this.events();
    if (!this.listening) {
      this.listening = true;
      events.onOutcome((state, ids, results, created) => this.onEvent(state, ids, results, created));
      events.onReconnect(() => {
        // Marks and remembered outcomes belong to one stretch of connection.
        this.epoch++;
        this.early = new Map();
        this.earlier = new Map();
        void this.check([...this.waiters.keys()]).catch(() => {});
      });
    }
    await events.ready();
    this.live = true;
  }

  private onEvent(state: string, announced: readonly string[], results?: readonly string[], created?: readonly string[]): void {
    // Only outcomes come on this channel, but scripts of an older version (a rolling upgrade)
    // publish every move on it.
    if (!FINAL_EVENTS.has(state)) return;
    const unread: string[] = [];
    announced.forEach((id, index) => {
      const result = results?.[index];
      const set = this.waiters.get(id);
      if (!set) {
        this.remember(id, state === 'completed' && result !== undefined && result.length <= EARLY_RESULT_MAX_CHARS ? result : undefined);
        return;
      }
      // Results that came with the announcement settle their waiters without a read.
      if (state !== 'completed' || result === undefined) return void unread.push(id);
      if (!GENERATED_ID.test(id)) {
        // A caller's id may have named an earlier task whose outcome this is: take it only
        // for the task waited for (known from a read; until that answers, keep it for then).
        const stamp = created?.[index];
        if (stamp === undefined) return void unread.push(id);
        const incarnation = this.incarnations.get(id);
        if (incarnation === undefined) return void this.announcedBeforeRead.set(id, { created: stamp, result });
        if (incarnation !== stamp) return;
      }
      this.settleAll(id, set, result);
    });
    if (unread.length) void this.check(unread).catch(() => {});
  }

  private settleAll(id: string, set: Set<Waiter>, result: string): void {
    const value = result === '' ? undefined : (JSON.parse(result) as unknown);
    for (const waiter of set) this.settle(id, waiter, value);
  }

  private remember(id: string, result: string | undefined): void {
    const now = performance.now();
    if (now - this.earlySince >= EARLY_OUTCOME_MS || this.early.size >= EARLY_OUTCOME_MAX) {
      // The generation dropped now holds outcomes heard before the current one began.
      this.forgotBefore = this.earlySince;
      this.earlier = this.early;
      this.early = new Map();
      this.earlySince = now;
    }
    this.early.set(id, { at: now, result });
  }

  /** Reads the tasks in one pipeline and settles the waiters of those that are final. */
  private async check(ids: string[]): Promise<void> {
    const pipeline = this.client.pipeline();
    for (const id of ids) pipeline.hmget(this.keys.task(id), F.state, F.result, F.error, F.createdAt);
    const replies = (await pipeline.exec()) ?? [];
    ids.forEach((id, index) => {
      const [error, value] = replies[index] ?? [];
      const set = this.waiters.get(id);
      if (!set) return;
      if (error) {
        for (const waiter of set) this.settle(id, waiter, undefined, error);
        return;
      }
      const [state, result, taskError, createdAt] = value as (string | null)[];
      const early = this.announcedBeforeRead.get(id);
      this.announcedBeforeRead.delete(id);
      // Announced, then deleted (retention 0). Left open: a stale announcement of an earlier
      // task under a reused caller id, heard before this read, while the new task completed
      // and was deleted within it, would be taken here (retention 0 and microseconds apart).
      if (!state && early) return this.settleAll(id, set, early.result);
      const outcome = outcomeOf(this.queue, id, stateFromCode(state) ?? null, result ?? null, taskError ?? null);
      if (outcome) {
        for (const waiter of set) this.settle(id, waiter, outcome.value, outcome.error);
        return;
      }
      if (createdAt) this.incarnations.set(id, createdAt);
      if (early && early.created === createdAt) this.settleAll(id, set, early.result);
    });
  }
}

function outcomeOf(
  queue: string,
  id: string,
  state: string | null,
  result: string | null,
  error: string | null,
): { value?: unknown; error?: Error } | undefined {
  switch (state) {
    case null:
      return { error: new TaskNotFoundError(queue, id) };
    case 'completed':
      return { value: result === null ? undefined : JSON.parse(result) };
    case 'failed':
      return { error: new TaskFailedError(id, error ? (JSON.parse(error) as TaskErrorInfo) : { name: 'Error', message: 'unknown' }) };
    case 'cancelled':
      return { error: new TaskCancelledError(id) };
    default:
      return undefined;
  }
}
