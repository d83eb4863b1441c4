/**
 * The read/act API shared by the gateway, the dashboard and the CLI.
 *
 * Responsible for: knowing which queues exist under a prefix, keeping Queue objects for the
 * queue names in use (all sharing one command connection, so a face holds one connection
 * plus one result subscription per queue; at most `maxQueueObjects` are kept, the least
 * recently used idle ones closed first, so names from requests cannot grow memory without
 * bound), summaries across queues, and (for request-serving faces) watching Redis's
 * eviction policy on that connection; topics (`topics`) and live channels (`channels`) for
 * the faces. The faces never build keys or call scripts: everything goes through here or
 * the public API.
 */
import { Flows } from '../flows/flows.js';
import type { ConnectionOption } from '../config.js';
import { DEFAULT_PREFIX, validateName } from '../config.js';
import { Queue, type TaskCounts, type WorkerInfo } from '../queue/queue.js';
import { closeClient, openClient, orUnavailable, type OwnedClient } from '../redis/connection.js';
import { EvictionGuard } from '../redis/eviction-policy.js';
import { RedisAuthFailedError, type UnsafeEvictionPolicyError } from '../errors.js';
import { typedReplyError } from '../redis/reply-errors.js';
import { QueueKeys, queuesKey } from '../redis/keys.js';
import { partitionName, readLayout } from '../queue/partitions.js';
import type { ScheduleInfo } from '../queue/schedules.js';
import { decodeTaskTimes, TIME_FIELDS, type TaskTimes } from '../queue/task.js';
import { AuthState } from './auth-state.js';
import { ChannelAdmin } from './channels.js';
import { TopicAdmin } from './topics.js';
import { searchTasks, type SearchOptions, type SearchResult } from './search.js';

export interface AdminOptions {
  connection?: ConnectionOption;
  prefix?: string;
  /**
   * For request-serving faces: fail Redis commands at once while disconnected and after
   * this many ms without an answer (RedisUnavailableError), instead of waiting for Redis.
   * Default: wait, like the library.
   */
  failFastMs?: number;
  /**
   * Watch Redis's `maxmemory-policy` on the admin's connection, at connect and after every
   * reconnect (eviction-policy.ts); `assertRedisSafe()` then refuses an unsafe Redis.
   * `allow` accepts the risk. Default: not watched (the CLI checks once, up front).
   */
  evictionCheck?: { allow: boolean; onUnsafe?(error: UnsafeEvictionPolicyError): void };
  /** Most Queue objects kept (least recently used idle ones are closed beyond it). Default 1,000. */
  maxQueueObjects?: number;
}

/** Default of AdminOptions.maxQueueObjects. */
export const DEFAULT_MAX_QUEUE_OBJECTS = 1_000;

export interface QueueSummary extends TaskCounts {
  name: string;
}

/** Tasks a queue has seen since it was created, from counters its scripts keep. */
export interface QueueTotals {
  enqueued: number;
  completed: number;
  failed: number;
}

/** When a task was created, became due, last started and finished (epoch ms, Redis clock). */
export type { TaskTimes };

export class Admin {
  readonly prefix: string;
  private readonly queues = new Map<string, Queue>();
  private shared: OwnedClient | undefined;
  private guard: EvictionGuard | undefined;
  private authFailure: RedisAuthFailedError | undefined;
  /** Waits through outages, for topic members' reads (see TopicAdmin). */
  private patient: OwnedClient | undefined;
  private topicAdmin: TopicAdmin | undefined;
  private channelAdmin: ChannelAdmin | undefined;
  private authState: AuthState | undefined;
  private flowsAdmin: Flows | undefined;

  constructor(private readonly options: AdminOptions = {}) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
  }

  /** Topic reads: names, overview (groups, lag, pending), one topic's info and dead letters; and members. */
  get topics(): TopicAdmin {
    this.topicAdmin ??= new TopicAdmin({ connection: this.client(), prefix: this.prefix, memberConnection: () => this.patientClient() });
    return this.topicAdmin;
  }

  /** Flows (parent/child trees, chains) on the shared connection: create them, read a tree with its states. */
  get flows(): Flows {
    this.flowsAdmin ??= new Flows({ connection: this.client(), prefix: this.prefix });
    return this.flowsAdmin;
  }

  /** The gateway's shared auth state: session generations, failed-authentication counters. */
  get auth(): AuthState {
    this.authState ??= new AuthState(() => this.client(), this.prefix);
    return this.authState;
  }

  /** Live channels: publish and subscribe, Errand JSON channels or raw ones. */
  get channels(): ChannelAdmin {
    this.channelAdmin ??= new ChannelAdmin({ connection: this.client(), prefix: this.prefix, failFastMs: this.options.failFastMs });
    return this.channelAdmin;
  }

  /**
   * The Queue object for a name (validated), created on first use and kept while used
   * recently (see maxQueueObjects): a Queue waiting for results or watching tasks is never
   * closed under its users.
   */
  queue<P = unknown, R = unknown>(name: string): Queue<P, R> {
    validateName('queue', name);
    let queue = this.queues.get(name);
    if (queue) {
      this.queues.delete(name); // re-inserted below: a Map keeps insertion order, the oldest first
    } else {
      queue = new Queue(name, { connection: this.client(), prefix: this.prefix });
      this.evictIdleQueues();
    }
    this.queues.set(name, queue);
    return queue as Queue<P, R>;
  }

  /** Queue objects kept now (at most maxQueueObjects, plus busy ones past it). */
  get queueObjects(): number {
    return this.queues.size;
  }

  /**
   * Resolves unless Redis's eviction policy was found unsafe (waiting for a check in
   * flight); rejects with UnsafeEvictionPolicyError while it stands. Only with `evictionCheck`.
   */
  async assertRedisSafe(): Promise<void> {
    this.client();
    await this.guard?.assertSafe();
  }

  /** assertRedisSafe for every request: no promise (undefined) when the verdict is known and safe; throws a standing refusal. */
  checkRedisSafe(): Promise<void> | undefined {
    this.client();
    return this.guard?.checkSafe();
  }

  /** Closes the least recently used idle Queue objects past the limit (busy ones are skipped, and kept). */
  private evictIdleQueues(): void {
    const max = this.options.maxQueueObjects ?? DEFAULT_MAX_QUEUE_OBJECTS;
    let excess = this.queues.size + 1 - max;
    for (const [name, queue] of this.queues) {
      if (excess <= 0) break;
      if (queue.busy) continue;
      this.queues.delete(name);
      void queue.close().catch(() => {}); // idle: closing only drops its (unused) subscriptions
      excess--;
    }
  }

  /** Names of every queue that was ever used under this prefix, sorted. */
  async queueNames(): Promise<string[]> {
    const names = await this.call(this.client().smembers(queuesKey(this.prefix)));
    return names.sort();
  }

  /** Whether anything ever used a queue of this name under this prefix (a producer, a worker, a bridge). */
  async hasQueue(name: string): Promise<boolean> {
    validateName('queue', name);
    return (await this.call(this.client().sismember(queuesKey(this.prefix), name))) === 1;
  }

  /** Counts of every known queue. */
  async overview(): Promise<QueueSummary[]> {
    const names = await this.queueNames();
    return Promise.all(names.map(async (name) => ({ name, ...(await this.queue(name).counts()) })));
  }

  /** Lifetime counters of a queue (0 for a queue never used), summed over its partitions. */
  async totals(name: string): Promise<QueueTotals> {
    const partitions = await this.partitionKeys(name);
    const client = this.client();
    const each = await this.call(Promise.all(partitions.map(({ keys }) => client.hmget(keys.meta, 'enqueued', 'completed', 'failed'))));
    const totals = { enqueued: 0, completed: 0, failed: 0 };
    for (const [enqueued, completed, failed] of each) {
      totals.enqueued += Number(enqueued ?? 0);
      totals.completed += Number(completed ?? 0);
      totals.failed += Number(failed ?? 0);
    }
    return totals;
  }

  /** The keys of each partition of a queue, with its mark (one, the queue's own, when unpartitioned). */
  private async partitionKeys(name: string): Promise<{ mark: string; keys: QueueKeys }[]> {
    const base = this.queue(name).keys;
    const layout = await this.call(readLayout(this.client(), base));
    return layout.marks.map((mark) => ({ mark, keys: mark ? new QueueKeys(base.prefix, partitionName(name, mark)) : base }));
  }

  /** Live workers of every known queue, by queue name then worker id. */
  async workers(): Promise<WorkerInfo[]> {
    const names = await this.queueNames();
    const perQueue = await Promise.all(names.map((name) => this.queue(name).workers()));
    return perQueue.flat();
  }

  /** Every schedule of every queue under the prefix, queue by queue (each by next run). */
  async schedules(): Promise<(ScheduleInfo & { queue: string })[]> {
    const names = await this.queueNames();
    const perQueue = await Promise.all(names.map(async (name) => (await this.queue(name).schedules()).map((schedule) => ({ queue: name, ...schedule }))));
    return perQueue.flat();
  }

  /**
   * How late a queue's most overdue schedule slot is at `nowMs` (Redis clock; 0 when none is
   * due), or undefined for a queue without schedules. Reads the earliest slot and the
   * schedules waiting for cron slots, not every schedule.
   */
  async scheduleLagMs(name: string, nowMs: number): Promise<number | undefined> {
    const keys = this.queue(name).keys;
    const client = this.client();
    const [count, first, waiting] = await this.call(
      Promise.all([client.zcard(keys.schedules), client.zrange(keys.schedules, 0, 0, 'WITHSCORES'), client.smembers(keys.scheduleRefill)]),
    );
    if (count === 0) return undefined;
    const due: number[] = [];
    if (first[1] !== undefined && first[1] !== 'inf') due.push(Number(first[1]));
    if (waiting.length) {
      const nexts = await this.call(Promise.all(waiting.slice(0, 100).map((id) => client.hmget(keys.schedule(id), 'next', 'paused', 'ended'))));
      for (const [next, paused, ended] of nexts) if (next !== null && paused !== '1' && ended !== '1') due.push(Number(next));
    }
    const earliest = Math.min(...due);
    return Number.isFinite(earliest) && earliest < nowMs ? nowMs - earliest : 0;
  }

  /** The Redis server's clock in ms (schedule lag and due times are measured on it). */
  async redisNowMs(): Promise<number> {
    const [seconds, micros] = await this.call(this.client().time());
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  /**
   * How long (ms) the longest-waiting task of a queue has been due, on the Redis server's
   * clock (due: the later of its creation and its runAt), or null when none waits. Reads the
   * next task of each priority level (FIFO within a level: the oldest of that level), so a
   * low-priority task starved by higher ones is seen too; of a partitioned queue, in every
   * partition.
   */
  async oldestWaitingMs(name: string): Promise<number | null> {
    const [partitions, nowMs] = await Promise.all([this.partitionKeys(name), this.redisNowMs()]);
    const client = this.client();
    const due = await Promise.all(
      partitions.map(async ({ mark, keys }) => {
        const levels = await this.call(client.zrange(keys.priorities, 0, -1));
        const heads = await this.call(Promise.all(levels.map((level) => client.lindex(keys.waiting(Number(level)), -1))));
        const times = await this.taskTimes(name, heads.filter((id): id is string => id !== null), mark);
        return times.flatMap((t) => (t ? [Math.max(t.createdAt, t.runAt ?? 0)] : []));
      }),
    );
    const all = due.flat();
    return all.length ? Math.max(0, nowMs - Math.min(...all)) : null;
  }

  /** Finds a queue's task by id and by payload text, reading a bounded number of tasks (see search.ts). */
  async search(name: string, options: SearchOptions): Promise<SearchResult> {
    return searchTasks(this.queue(name), options);
  }

  /** The timestamps of some tasks in one round trip (null for tasks that are gone). */
  async taskTimes(name: string, ids: readonly string[], mark = ''): Promise<(TaskTimes | null)[]> {
    // Of one partition (`mark`: a partitioned queue's partition; '' the queue's own keys): one slot.
    const keys = new QueueKeys(this.queue(name).keys.prefix, partitionName(name, mark));
    const pipeline = this.client().pipeline();
    for (const id of ids) pipeline.hmget(keys.task(id), ...TIME_FIELDS);
    const replies = (await this.call(pipeline.exec())) ?? [];
    return replies.map(([error, value]) => {
      const [createdAt, runAt, startedAt, finishedAt] = (error ? [] : value) as (string | null)[];
      return createdAt ? decodeTaskTimes(createdAt, runAt, startedAt, finishedAt) : null;
    });
  }

  /**
   * Redis refused the connection's credentials at its last attempt (cleared once it
   * connects): commands then fail as unavailable, and this says why.
   */
  get credentialsRefused(): RedisAuthFailedError | undefined {
    return this.authFailure;
  }

  /** Resolves when Redis answers a PING; rejects with RedisUnavailableError otherwise. */
  async ping(): Promise<void> {
    await this.call(this.client().ping());
  }

  async close(): Promise<void> {
    const queues = [...this.queues.values()];
    this.queues.clear();
    const topics = this.topicAdmin;
    this.topicAdmin = undefined;
    const channels = this.channelAdmin;
    this.channelAdmin = undefined;
    const flows = this.flowsAdmin;
    this.flowsAdmin = undefined;
    await Promise.all([...queues.map((queue) => queue.close()), topics?.close(), channels?.close(), flows?.close()]);
    this.guard?.dispose();
    const clients = [this.shared, this.patient];
    this.shared = this.patient = undefined;
    await Promise.all(clients.map((client) => client && closeClient(client)));
  }

  /** The command connection every Queue of this Admin shares, opened on first use. */
  private client() {
    if (!this.shared) {
      const { failFastMs } = this.options;
      this.shared = openClient(this.options.connection, failFastMs === undefined ? {} : { failFastMs });
      if (this.shared.owned) this.shared.client.on('error', () => {}); // commands report failures
      const { evictionCheck } = this.options;
      if (evictionCheck) this.guard = new EvictionGuard(this.shared.client, evictionCheck);
      this.shared.client.on('error', (error: Error) => {
        const typed = typedReplyError(error);
        if (typed instanceof RedisAuthFailedError) this.authFailure = typed;
      });
      this.shared.client.on('ready', () => (this.authFailure = undefined));
    }
    return this.shared.client;
  }

  /** The connection topic members share for their commands, opened on first use. */
  private patientClient() {
    if (!this.patient) {
      this.patient = openClient(this.options.connection, { patient: true });
      if (this.patient.owned) this.patient.client.on('error', () => {}); // members report failures
    }
    return this.patient.client;
  }

  /** Turns connection failures into RedisUnavailableError; script and reply errors pass. */
  private call<T>(promise: Promise<T>): Promise<T> {
    return orUnavailable(promise);
  }
}
