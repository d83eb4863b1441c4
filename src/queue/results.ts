/**
 * Awaits task results without polling Redis per waiter.
 *
 * It listens to the queue's task events (task-events.ts: one subscription per queue, on a
 * pub/sub connection shared by the whole process), where scripts announce the ids of every
 * batch that reaches a final state. A
 * waiter first registers, then reads the task once (it may already be finished), then
 * waits for its id to be announced. After a reconnect, every pending waiter reads its task
 * again, since announcements published while the connection was down are not replayed.
 */
import type { RedisClient } from '../redis/scripts.js';
import { stateFromCode, TASK_FIELDS as F, type QueueKeys } from '../redis/keys.js';
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

export class ResultWaiter {
  private listening = false;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private closed = false;

  constructor(
    private readonly queue: string,
    private readonly keys: QueueKeys,
    private readonly client: RedisClient,
    private readonly events: () => TaskEvents,
  ) {}

  /** Resolves with the task's result; rejects with a typed error if it did not complete. */
  async wait(id: string, timeoutMs?: number): Promise<unknown> {
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
      await this.subscribe();
      await this.check([id]);
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
    if (set?.size === 0) this.waiters.delete(id);
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
      events.onChange((state, ids, results) => this.onEvent(state, ids, results));
      events.onReconnect(() => void this.check([...this.waiters.keys()]).catch(() => {}));
    }
    await events.ready();
  }

  private onEvent(state: string, announced: readonly string[], results?: readonly string[]): void {
    if (!FINAL_EVENTS.has(state)) return;
    const unread: string[] = [];
    announced.forEach((id, index) => {
      const set = this.waiters.get(id);
      if (!set) return;
      const result = results?.[index];
      // Results that came with the announcement settle their waiters without a read.
      if (state !== 'completed' || result === undefined) return void unread.push(id);
      const value = result === '' ? undefined : (JSON.parse(result) as unknown);
      for (const waiter of set) this.settle(id, waiter, value);
    });
    if (unread.length) void this.check(unread).catch(() => {});
  }

  /** Reads the tasks in one pipeline and settles the waiters of those that are final. */
  private async check(ids: string[]): Promise<void> {
    const pipeline = this.client.pipeline();
    for (const id of ids) pipeline.hmget(this.keys.task(id), F.state, F.result, F.error);
    const replies = (await pipeline.exec()) ?? [];
    ids.forEach((id, index) => {
      const [error, value] = replies[index] ?? [];
      const set = this.waiters.get(id);
      if (!set) return;
      if (error) {
        for (const waiter of set) this.settle(id, waiter, undefined, error);
        return;
      }
      const [state, result, taskError] = value as (string | null)[];
      const outcome = outcomeOf(this.queue, id, stateFromCode(state) ?? null, result ?? null, taskError ?? null);
      if (!outcome) return;
      for (const waiter of set) this.settle(id, waiter, outcome.value, outcome.error);
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
