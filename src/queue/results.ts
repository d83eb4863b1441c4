/**
 * Awaits task results without polling Redis per waiter.
 *
 * It listens to the queue's task events (task-events.ts: one subscription per queue, on a
 * pub/sub connection shared by the whole process), where scripts announce the ids of every
 * batch that reaches a final state. A waiter first registers, then reads the task once (it
 * may already be finished), then waits for its id to be announced. After a reconnect (or a
 * moved shard subscription), every pending waiter reads its task again, since
 * announcements published meanwhile are not replayed.
 *
 * Whom to believe. An announcement is a pub/sub message, which anything that can publish
 * on the channel could forge. A waiter for a task this process created (with a generated
 * id, while listening: a SentMark) takes an announced result as it comes. Any other waiter
 * takes it only for the task it read at the start (the announcement's createdAt must match
 * the one it read) and only once a second read confirms the task is final; the announced
 * result is used only when that read finds the task already gone (retention 0).
 *
 * The first read is skipped for a task with a SentMark: no announcement of it can have been
 * missed since, unless the connection dropped (the mark's epoch tells) or it came before
 * the waiter registered (early-outcomes.ts remembers those). Generated ids never repeat
 * (the counter is floored by the Redis clock), so such an outcome is the task's own. Awaiting
 * a result just enqueued, the common case, then costs no round trip of its own.
 */
import type { RedisClient } from '../redis/scripts.js';
import { TASK_FIELDS as F, type QueueKeys } from '../redis/keys.js';
import { EarlyOutcomes } from './early-outcomes.js';
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
  /** Waits for a task this process created (it has a SentMark): announcements are its own. */
  trusted: boolean;
}

const FINAL_EVENTS = new Set(['completed', 'failed', 'cancelled', 'removed']);

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

export class ResultWaiter {
  private listening = false;
  /** The subscription was confirmed at least once: marks may be handed out. */
  private live = false;
  /** Counts reconnections: a mark from an earlier epoch may have missed its announcement. */
  private epoch = 0;
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** The createdAt of the task each id's waiters wait for, once a read saw it. */
  private readonly incarnations = new Map<string, string>();
  /**
   * A completed result announced for an id whose waiters need a read to believe it;
   * `reread` once a read after it found the task not final yet (one more read settles it).
   */
  private readonly announced = new Map<string, { created: string; result: string; reread?: boolean }>();
  private readonly early = new EarlyOutcomes(EARLY_OUTCOME_MS, EARLY_OUTCOME_MAX);
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
    const settled = new Promise<unknown>((resolve, reject) => (waiter = { resolve, reject, trusted: sent !== undefined }));
    // It may be settled (timeout, close) before it is awaited below: that is not unhandled.
    settled.catch(() => {});
    this.add(id, waiter);
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => this.settle(id, waiter, undefined, new WaitTimeoutError(id, timeoutMs)), timeoutMs);
    }
    try {
      if (sent && this.live && sent.epoch === this.epoch && sent.at >= this.early.forgotBefore) {
        // Listening since before the task existed: its announcement is either still to
        // come (this waiter will hear it) or came already and is remembered.
        const early = this.early.find(id, sent.at);
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
      this.announced.delete(id);
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
        this.early.clear();
        void this.check([...this.waiters.keys()]).catch(() => {});
      });
    }
    await events.ready();
    this.live = true;
  }

  private onEvent(state: string, ids: readonly string[], results?: readonly string[], created?: readonly string[]): void {
    // Only outcomes come on this channel, but scripts of an older version (a rolling upgrade)
    // publish every move on it.
    if (!FINAL_EVENTS.has(state)) return;
    const unread: string[] = [];
    ids.forEach((id, index) => {
      const result = results?.[index];
      const set = this.waiters.get(id);
      if (!set) {
        this.early.remember(id, state === 'completed' && result !== undefined && result.length <= EARLY_RESULT_MAX_CHARS ? result : undefined);
        return;
      }
      // Other outcomes, and results too long to announce, are read.
      if (state !== 'completed' || result === undefined) return void unread.push(id);
      const value = result === '' ? undefined : (JSON.parse(result) as unknown);
      let untrusted = false;
      for (const waiter of set) {
        if (waiter.trusted) this.settle(id, waiter, value);
        else untrusted = true;
      }
      if (!untrusted) return;
      // The others believe it only for the task they read, once a read confirms it.
      const stamp = created?.[index];
      if (stamp === undefined) return void unread.push(id);
      const incarnation = this.incarnations.get(id);
      if (incarnation !== undefined && incarnation !== stamp) return; // an earlier task under a reused caller id
      this.announced.set(id, { created: stamp, result });
      // Before the first read answered, that read settles it.
      if (incarnation !== undefined) unread.push(id);
    });
    if (unread.length) void this.check(unread).catch(() => {});
  }

  /** Reads the tasks in one pipeline and settles the waiters of those that are final. */
  private async check(ids: string[]): Promise<void> {
    const again: string[] = [];
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
      const announced = this.announced.get(id);
      const incarnation = this.incarnations.get(id);
      // Completed and already deleted (retention 0): the announcement of the task read
      // before is all there is. Left open: a stale announcement of an earlier task under a
      // reused caller id, heard before the first read, while the new task completed and was
      // deleted within it, would be taken here (retention 0 and microseconds apart).
      if (!state && announced && (incarnation === undefined || announced.created === incarnation)) {
        const value = announced.result === '' ? undefined : JSON.parse(announced.result);
        for (const waiter of set) this.settle(id, waiter, value);
        return;
      }
      const outcome = outcomeOf(this.queue, id, stateFromCode(state) ?? null, result ?? null, taskError ?? null);
      if (outcome) {
        for (const waiter of set) this.settle(id, waiter, outcome.value, outcome.error);
        return;
      }
      if (createdAt) this.incarnations.set(id, createdAt);
      if (!announced) return;
      if (announced.created !== createdAt || announced.reread) {
        // Of another task, or still not true after a read that came after it: not believed.
        this.announced.delete(id);
      } else {
        // This read may have run before the completion it announces (the reply and the
        // announcement come on different connections): read once more.
        announced.reread = true;
        again.push(id);
      }
    });
    if (again.length) await this.check(again);
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
