/**
 * State changes of a queue's tasks, for watchers (the gateway's task SSE, metrics).
 *
 * Responsible for: subscribing, per Queue object and on the process's shared pub/sub
 * connection, to the queue's channels, where the scripts publish `<state>|<id>,<id>` for
 * each batch of tasks that changed state: outcomes (completed, failed, cancelled, removed)
 * on one, other moves (and `progress|` and `log|` for progress values and log lines) on
 * another; handing outcome batches to listeners (the result waiter is one), which need
 * only the first channel; `changes(id)`, which listens to both and wakes its reader each
 * time the task is announced; and `watch(id)`, built on it, which yields a task's snapshot
 * each time it is seen in a new state or with new progress until it is final or removed.
 *
 * A watcher reads the task itself (once at the start, then after each announcement of its
 * id), so what it yields is always what Redis holds, never a reconstruction. Changes that
 * follow each other faster than a read may be coalesced: a watcher sees a subsequence of
 * the task's states that always ends with the final one. After a reconnect every watcher
 * reads again, since announcements published while the connection was down are lost.
 */
import { ReplyError } from 'ioredis';
import { ClosedError, RedisUnavailableError, TaskNotFoundError } from '../errors.js';
import { FINAL_STATES, type TaskState } from './states.js';
import type { SharedSubscriber, Subscription } from '../redis/subscriber.js';
import type { TaskInfo } from './task.js';

/**
 * A batch announcement: these tasks reached `state` (a final one, or 'removed'). For a
 * completed batch `results` may hold each task's result as JSON text ('' when undefined),
 * in `ids` order.
 */
export type OutcomeListener = (
  state: TaskState | 'removed',
  ids: readonly string[],
  results?: readonly string[],
  /** Each task's createdAt (epoch ms, as text), when announced: tells apart tasks that reused a caller's id. */
  created?: readonly string[],
) => void;

/**
 * Like OutcomeListener, for every state change (waiting, delayed and active too), and for
 * handlers' progress ('progress') and log lines ('log').
 */
export type StateChangeListener = (state: TaskState | 'removed' | 'progress' | 'log', ids: readonly string[], results?: readonly string[]) => void;

/** The queue's two pub/sub channels (QueueKeys.events and QueueKeys.progress). */
export interface TaskEventChannels {
  outcomes: string;
  progress: string;
}

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
  private subscriber: SharedSubscriber | undefined;
  /** Per channel: its subscription and the promise of its confirmation. */
  private readonly subscriptions = new Map<string, { subscription: Subscription; confirmed: Promise<void> | undefined }>();
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly listeners = new Set<OutcomeListener>();
  private readonly changeListeners = new Set<StateChangeListener>();
  private readonly reconnectListeners = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly queue: string,
    private readonly channels: TaskEventChannels,
    private readonly acquireSubscriber: () => SharedSubscriber,
    private readonly read: (id: string) => Promise<TaskInfo<P, R> | null>,
  ) {}

  /**
   * Resolves once the subscriptions in use are active (opening them if needed): outcomes,
   * and the other moves too while an onChange listener is registered.
   */
  ready(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('task events'));
    const outcomes = this.subscribe(this.channels.outcomes);
    if (!this.changeListeners.size) return outcomes;
    return Promise.all([outcomes, this.subscribe(this.channels.progress)]).then(() => undefined);
  }

  /**
   * Calls `listener` for every announced batch of state changes of any kind; returns the
   * function that stops it. Await ready() before relying on it.
   */
  onChange(listener: StateChangeListener): () => void {
    this.changeListeners.add(listener);
    // Start listening now, as a listener expects; ready() tells when it is confirmed.
    if (!this.closed) void this.ready().catch(() => {});
    return () => {
      this.changeListeners.delete(listener);
      this.dropProgressIfUnused();
    };
  }

  /** Calls `listener` for every announced batch of outcomes; returns the function that stops it. */
  onOutcome(listener: OutcomeListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Calls `listener` after each reconnection: announcements may have been missed. */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => void this.reconnectListeners.delete(listener);
  }

  /**
   * The task each time it is seen in a new state or with new progress, starting with its
   * current one; ends after a final state (completed, failed, cancelled), when the task is
   * removed, or on abort. Throws TaskNotFoundError if the task does not exist at the start.
   */
  async *watch(id: string, options: WatchOptions = {}): AsyncGenerator<TaskInfo<P, R>, void, undefined> {
    let last: string | undefined;
    for await (const _ of this.changes(id, options)) {
      const task = await this.read(id);
      if (this.closed) throw new ClosedError('task events');
      if (!task) {
        if (last === undefined) throw new TaskNotFoundError(this.queue, id);
        return; // removed
      }
      // Progress is compared as stored text: a watcher yields each value it sees once.
      const seen = task.progress === undefined ? task.state : `${task.state}\n${JSON.stringify(task.progress)}`;
      if (seen !== last) {
        last = seen;
        yield task;
        if (FINAL_STATES.includes(task.state)) return;
      }
    }
  }

  /**
   * Wakes its reader once subscribed, then each time the task is announced (a move, an
   * outcome, progress, log lines) and after each reconnection; announcements that come
   * while the reader is busy are coalesced into one wake. The reader reads what it needs
   * after each wake. Ends on abort; throws ClosedError when the events close.
   */
  async *changes(id: string, { signal }: WatchOptions = {}): AsyncGenerator<void, void, undefined> {
    if (this.closed) throw new ClosedError('task events');
    let wake: () => void = () => {};
    const watcher: Watcher = { dirty: false, wake: () => wake() };
    const onAbort = () => watcher.wake();
    signal?.addEventListener('abort', onAbort);
    this.add(id, watcher);
    try {
      await Promise.all([this.subscribe(this.channels.outcomes), this.subscribe(this.channels.progress)]);
      while (!signal?.aborted) {
        watcher.dirty = false;
        yield;
        if (this.closed) throw new ClosedError('task events');
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
    this.changeListeners.clear();
    this.reconnectListeners.clear();
    for (const set of this.watchers.values()) for (const watcher of set) watcher.wake();
    for (const { subscription } of this.subscriptions.values()) await subscription.close();
    await this.subscriber?.release();
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
    this.dropProgressIfUnused();
  }

  /** Every claim publishes on the progress channel: listen only while someone needs it. */
  private dropProgressIfUnused(): void {
    const entry = this.subscriptions.get(this.channels.progress);
    if (!entry || this.watchers.size > 0 || this.changeListeners.size > 0) return;
    this.subscriptions.delete(this.channels.progress);
    void entry.subscription.close().catch(() => {});
  }

  private subscribe(channel: string): Promise<void> {
    let entry = this.subscriptions.get(channel);
    if (!entry) {
      this.subscriber ??= this.acquireSubscriber();
      const outcomes = channel === this.channels.outcomes;
      const subscription = this.subscriber.subscribe(
        channel,
        (message) => this.onMessage(message, outcomes),
        () => this.onReconnected(outcomes),
      );
      this.subscriptions.set(channel, (entry = { subscription, confirmed: undefined }));
    }
    const current = entry;
    current.confirmed ??= current.subscription.ready.catch((error: unknown) => {
      // Subscribe again with the next caller, on the same shared connection.
      current.confirmed = undefined;
      if (error instanceof ReplyError || !(error instanceof Error)) throw error;
      throw new RedisUnavailableError(error.message, { cause: error });
    });
    return current.confirmed;
  }

  private onReconnected(outcomes: boolean): void {
    for (const set of this.watchers.values()) for (const watcher of set) this.poke(watcher);
    if (outcomes) for (const listener of this.reconnectListeners) listener();
  }

  private onMessage(message: string, outcomes: boolean): void {
    // "<state>|<ids>[|<createdAts>][\n<results>]" (lib/common.lua's publish)
    const newline = message.indexOf('\n');
    const [state, idList = '', createdList] = message.slice(0, newline < 0 ? undefined : newline).split('|') as [TaskState | 'removed' | 'progress' | 'log', string?, string?];
    const ids = idList.split(',');
    const created = createdList === undefined ? undefined : createdList.split(',');
    const results = newline < 0 ? undefined : message.slice(newline + 1).split('\n');
    for (const id of ids) {
      const set = this.watchers.get(id);
      if (set) for (const watcher of set) this.poke(watcher);
    }
    if (outcomes) for (const listener of this.listeners) listener(state as TaskState | 'removed', ids, results, created);
    for (const listener of this.changeListeners) listener(state, ids, results);
  }

  private poke(watcher: Watcher): void {
    watcher.dirty = true;
    watcher.wake();
  }
}
