/**
 * State changes of a queue's tasks, for watchers (the gateway's task SSE, metrics).
 *
 * Responsible for: one subscription per Queue object to the queue's events channel (opened
 * on first use), where the scripts publish `<state>|<id>,<id>` for each batch of tasks that
 * changed state; handing those batches to listeners; and `watch(id)`, which yields a task's
 * snapshot each time it is seen in a new state until it is final or removed.
 *
 * A watcher reads the task itself (once at the start, then after each announcement of its
 * id), so what it yields is always what Redis holds, never a reconstruction. Changes that
 * follow each other faster than a read may be coalesced: a watcher sees a subsequence of
 * the task's states that always ends with the final one. After a reconnect every watcher
 * reads again, since announcements published while the connection was down are lost.
 */
import { ReplyError } from 'ioredis';
import { ClosedError, RedisUnavailableError, TaskNotFoundError } from '../errors.js';
import { quit } from '../redis/connection.js';
import { FINAL_STATES, type TaskState } from '../redis/keys.js';
import type { RedisClient } from '../redis/scripts.js';
import type { TaskInfo } from './task.js';

/** A batch announcement: these tasks moved to `state` (or 'removed'). */
export type StateChangeListener = (state: TaskState | 'removed', ids: readonly string[]) => void;

export interface WatchOptions {
  /** Stops the watch: the iterator ends quietly. */
  signal?: AbortSignal;
}

interface Watcher {
  /** Set when an announcement arrives; cleared before each read, so none is missed. */
  dirty: boolean;
  wake(): void;
}

export class TaskEvents<P = unknown, R = unknown> {
  private subscriber: RedisClient | undefined;
  private subscribed: Promise<unknown> | undefined;
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly listeners = new Set<StateChangeListener>();
  private closed = false;

  constructor(
    private readonly queue: string,
    private readonly channel: string,
    private readonly openSubscriber: () => RedisClient,
    private readonly read: (id: string) => Promise<TaskInfo<P, R> | null>,
  ) {}

  /** Resolves once the subscription is active (opening it if needed). */
  ready(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('task events'));
    return this.subscribe().then(() => undefined);
  }

  /** Calls `listener` for every announced batch; returns the function that stops it. */
  onChange(listener: StateChangeListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /**
   * The task each time it is seen in a new state, starting with its current one; ends after
   * a final state (completed, failed, cancelled), when the task is removed, or on abort.
   * Throws TaskNotFoundError if the task does not exist at the start.
   */
  async *watch(id: string, { signal }: WatchOptions = {}): AsyncGenerator<TaskInfo<P, R>, void, undefined> {
    if (this.closed) throw new ClosedError('task events');
    let wake: () => void = () => {};
    const watcher: Watcher = { dirty: false, wake: () => wake() };
    const onAbort = () => watcher.wake();
    signal?.addEventListener('abort', onAbort);
    this.add(id, watcher);
    try {
      await this.subscribe();
      let last: TaskState | undefined;
      while (!signal?.aborted) {
        watcher.dirty = false;
        const task = await this.read(id);
        if (this.closed) throw new ClosedError('task events');
        if (!task) {
          if (last === undefined) throw new TaskNotFoundError(this.queue, id);
          return; // removed
        }
        if (task.state !== last) {
          last = task.state;
          yield task;
          if (FINAL_STATES.includes(task.state)) return;
        }
        if (!watcher.dirty && !signal?.aborted) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = () => {};
          if (this.closed) throw new ClosedError('task events');
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.remove(id, watcher);
    }
  }

  /** Ends every watch (with ClosedError) and closes the subscription. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    for (const set of this.watchers.values()) for (const watcher of set) watcher.wake();
    if (this.subscriber) await quit(this.subscriber);
  }

  private add(id: string, watcher: Watcher): void {
    let set = this.watchers.get(id);
    if (!set) this.watchers.set(id, (set = new Set()));
    set.add(watcher);
  }

  private remove(id: string, watcher: Watcher): void {
    const set = this.watchers.get(id);
    set?.delete(watcher);
    if (set?.size === 0) this.watchers.delete(id);
  }

  private subscribe(): Promise<unknown> {
    if (!this.subscribed) {
      // A failed subscribe (Redis down) is retried on the same connection, never a new one.
      const subscriber = (this.subscriber ??= this.openConnection());
      this.subscribed = subscriber.subscribe(this.channel).catch((error: unknown) => {
        this.subscribed = undefined;
        if (error instanceof ReplyError || !(error instanceof Error)) throw error;
        throw new RedisUnavailableError(error.message, { cause: error });
      });
    }
    return this.subscribed;
  }

  private openConnection(): RedisClient {
    const subscriber = this.openSubscriber();
    // Connection errors are retried by ioredis; watchers read again on 'ready'.
    subscriber.on('error', () => {});
    subscriber.on('message', (_channel: string, message: string) => this.onMessage(message));
    let first = true;
    subscriber.on('ready', () => {
      if (first) return void (first = false);
      for (const set of this.watchers.values()) for (const watcher of set) this.poke(watcher);
    });
    return subscriber;
  }

  private onMessage(message: string): void {
    const bar = message.indexOf('|');
    const state = message.slice(0, bar) as TaskState | 'removed';
    const ids = message.slice(bar + 1).split(',');
    for (const id of ids) {
      const set = this.watchers.get(id);
      if (set) for (const watcher of set) this.poke(watcher);
    }
    for (const listener of this.listeners) listener(state, ids);
  }

  private poke(watcher: Watcher): void {
    watcher.dirty = true;
    watcher.wake();
  }
}
