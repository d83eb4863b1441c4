/**
 * The partitions of one queue as its producer-side handle sees them (src/queue/partitions.ts
 * is the layout): each partition's keys and the parts that read or listen to it (task reads,
 * log reader, result waiter, task events), made on first use; where a task id is; and the
 * admin reads summed or merged over every partition (counts with a per-partition breakdown,
 * task lists, throughput, workers, groups). An unpartitioned queue is one partition: its
 * reads are exactly the queue's own.
 */
import { GROUP_FIELDS, META_FIELDS, QueueKeys, SCHEDULE_RUN_PREFIX, SETTINGS_FIELDS } from '../redis/keys.js';
import * as scripts from '../redis/queue-scripts.js';
import { runScript, type RedisClient, type ScriptCall } from '../redis/scripts.js';
import { checkShares, markOfId, ownSettings, partitionFields, partitionName, partitionNumber, placePartitions, readLayout, routingHash, type Layout } from './partitions.js';
import { QueueReads, type PartitionCounts, type TaskCounts, type ThroughputPoint, type WorkerInfo } from './queue-reads.js';
import { ResultWaiter } from './results.js';
import type { TaskState } from './states.js';
import { TaskEvents } from './task-events.js';
import { GENERATED_ID } from './task-encoding.js';
import { TaskLogReader } from './task-logs.js';
import type { TaskInfo } from './task.js';
import { subscribers } from '../redis/subscriber.js';
import type { ConnectionOption } from '../config.js';

/** One partition's parts. */
export class Lane<P, R> {
  readonly reads: QueueReads<P, R>;
  readonly logReader: TaskLogReader;
  readonly results: ResultWaiter;
  private taskEvents: TaskEvents<P, R> | undefined;

  constructor(
    readonly mark: string,
    readonly keys: QueueKeys,
    private readonly parts: { queue: string; client: () => RedisClient; connection: ConnectionOption | undefined; getTask(id: string): Promise<TaskInfo<P, R> | null> },
  ) {
    this.reads = new QueueReads<P, R>(parts.queue, keys, parts.client);
    this.logReader = new TaskLogReader(parts.queue, keys, parts.client);
    this.results = new ResultWaiter(parts.queue, keys, parts.client(), () => this.events);
  }

  /** This partition's task state changes, from one subscription opened on first use. */
  get events(): TaskEvents<P, R> {
    this.taskEvents ??= new TaskEvents<P, R>(
      this.parts.queue,
      { outcomes: this.keys.events, progress: this.keys.progress },
      () => subscribers.acquire(this.parts.connection),
      (id) => this.parts.getTask(id),
    );
    return this.taskEvents;
  }

  async close(): Promise<void> {
    await Promise.all([this.results.close(), this.taskEvents?.close()]);
  }
}

/** Script calls inherit() keeps in flight. */
const INHERIT_CALLS_AT_ONCE = 500;

export class QueueLanes<P, R> {
  private readonly lanes = new Map<string, Lane<P, R>>();

  constructor(
    private readonly queue: string,
    private readonly prefix: string,
    private readonly parts: { client: () => RedisClient; connection: ConnectionOption | undefined; getTask(id: string): Promise<TaskInfo<P, R> | null> },
  ) {}

  /** The partition with this mark ('' : the queue's own layout). */
  lane(mark: string): Lane<P, R> {
    let lane = this.lanes.get(mark);
    if (!lane) {
      const keys = new QueueKeys(this.prefix, partitionName(this.queue, mark));
      lane = new Lane<P, R>(mark, keys, { queue: this.queue, ...this.parts });
      this.lanes.set(mark, lane);
    }
    return lane;
  }

  get base(): Lane<P, R> {
    return this.lane('');
  }

  /** The queue's layout now (one read of its settings). */
  layout(): Promise<Layout> {
    return readLayout(this.parts.client(), this.base.keys);
  }

  /** Every partition of the layout (drained ones too). */
  every(layout: Layout): Lane<P, R>[] {
    return layout.marks.map((mark) => this.lane(mark));
  }

  /**
   * The partition that holds task `id` when that is known without asking Redis: a generated
   * id names it, a schedule run is in the queue's own layout, and so is any task of a queue
   * with one partition (`layout`: as last read, if it was).
   */
  known(id: string, layout: Layout | undefined): Lane<P, R> | undefined {
    const mark = markOfId(id);
    if (mark !== undefined) return this.lane(mark);
    if (GENERATED_ID.test(id) || id.startsWith(SCHEDULE_RUN_PREFIX) || layout?.marks.length === 1) return this.base;
    return undefined;
  }

  /**
   * The partition that holds task `id`: a generated id names it; a schedule run is in the
   * queue's own layout; a caller's id was routed by its hash: looked up there first, then in
   * every other partition (it may be from before the partition count changed).
   */
  async locate(id: string): Promise<Lane<P, R>> {
    const mark = markOfId(id);
    if (mark !== undefined) return this.lane(mark);
    if (GENERATED_ID.test(id) || id.startsWith(SCHEDULE_RUN_PREFIX)) return this.base;
    const layout = await this.layout();
    if (layout.marks.length === 1) return this.base;
    const first = layout.marks[routingHash(`id:${id}`) % layout.partitions]!;
    const order = [first, ...layout.marks.filter((m) => m !== first)];
    // Each partition is in its own slot: one EXISTS each, in parallel.
    const found = await Promise.all(order.map((m) => this.parts.client().exists(this.lane(m).keys.task(id))));
    const at = found.findIndex((exists) => exists === 1);
    return this.lane(order[at < 0 ? 0 : at]!);
  }

  /** Counts summed over every partition, with each one's own. */
  async counts(layout: Layout): Promise<TaskCounts> {
    const client = this.parts.client();
    const each = await Promise.all(this.every(layout).map((lane) => runScript(client, scripts.counts(lane.keys))));
    const sum: TaskCounts = { waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0, cancelled: 0, paused: false, groups: 0, dependencies: 0 };
    for (const counts of each) {
      for (const field of ['waiting', 'delayed', 'active', 'completed', 'failed', 'cancelled', 'groups', 'dependencies'] as const) sum[field] += counts[field];
      sum.paused ||= counts.paused;
    }
    const partitions: PartitionCounts[] = each.map((counts, n) => ({ partition: partitionNumber(layout.marks[n]!), routed: n < layout.partitions, ...counts }));
    return { ...sum, partitions };
  }

  /**
   * A page of tasks in one state over every partition: each partition's first `offset +
   * limit`, merged in the state's order (newest first for finished states, next to run
   * first for waiting and delayed).
   */
  async list(layout: Layout, state: TaskState, offset: number, limit: number): Promise<TaskInfo<P, R>[]> {
    const pages = await Promise.all(this.every(layout).map((lane) => lane.reads.list(state, { offset: 0, limit: Math.min(1000, offset + limit) })));
    const order = orderOf(state);
    return pages
      .flat()
      .sort(order)
      .slice(offset, offset + limit);
  }

  async throughput(layout: Layout, minutes: number | undefined): Promise<ThroughputPoint[]> {
    const each = await Promise.all(this.every(layout).map((lane) => lane.reads.throughput({ minutes })));
    return each[0]!.map((point, i) => ({
      minute: point.minute,
      completed: each.reduce((sum, points) => sum + (points[i]?.completed ?? 0), 0),
      failed: each.reduce((sum, points) => sum + (points[i]?.failed ?? 0), 0),
    }));
  }

  /** Live workers (a worker beats in every partition: listed once, with the tasks it holds in all). */
  async workers(layout: Layout): Promise<WorkerInfo[]> {
    const byId = new Map<string, WorkerInfo>();
    for (const workers of await Promise.all(this.every(layout).map((lane) => lane.reads.workers()))) {
      for (const worker of workers) {
        const seen = byId.get(worker.id);
        if (!seen) byId.set(worker.id, { ...worker, tasks: [...worker.tasks] });
        else for (const id of worker.tasks) if (!seen.tasks.includes(id)) seen.tasks.push(id);
      }
    }
    return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * A partitioned queue's settings change (or a change of its partition count): the settings
   * as given are kept with the layout in the queue's own `settings` hash, and every partition
   * stores its share (partitions.ts). New partitions are placed first, the queue's own hash
   * (what producers route by) written last; each write is atomic, the whole is not: a change
   * cut short is completed by making it again. `stored`: the queue's own settings hash now.
   * The caller holds `configuring` (token `hold`), so no other partitioned change runs;
   * the last write releases it, and holds only if that hash did not change meanwhile (its
   * version: a change made while the queue looked unpartitioned): false when it did, and
   * the caller reads it again and repeats.
   */
  async configure(stored: Record<string, string>, layout: Layout, partitions: number, fields: [string, string][], hold: string): Promise<boolean> {
    const client = this.parts.client();
    const kept = stored[SETTINGS_FIELDS.partitionLogical];
    const logical = kept ? (JSON.parse(kept) as Record<string, string>) : ownSettings(stored);
    for (const [field, value] of fields) {
      if (value === '') delete logical[field];
      else logical[field] = value;
    }
    checkShares(logical, partitions);
    const marks = layout.marks.length < partitions ? [...layout.marks, ...(await placePartitions(client, this.queue, layout.marks.length, partitions))] : layout.marks;
    await this.inherit(marks.slice(layout.marks.length));
    await Promise.all(marks.slice(1).map((mark, i) => runScript(client, scripts.configure(this.lane(mark).keys, partitionFields(logical, partitions, i + 1)))));
    const own: [string, string][] = [
      ...partitionFields(logical, partitions, 0),
      [SETTINGS_FIELDS.partitionLanes, marks.slice(1).join(',')],
      [SETTINGS_FIELDS.partitionLogical, JSON.stringify(logical)],
    ];
    return (await runScript(client, scripts.configure(this.base.keys, own, { only: Number(stored[SETTINGS_FIELDS.version] ?? 0), release: hold }))) >= 0;
  }

  /**
   * New partitions are made to hold what the first one holds beyond the settings: the
   * queue's pause, and every group's own limits and pause (written to every partition),
   * before any task is routed to them; whatever they held already (a raise cut short) is
   * replaced. The caller holds `configuring`, as pause, resume and group changes of a
   * partitioned queue do: none runs across this copy. One call per group with settings of
   * its own and new partition, a bounded number at a time.
   */
  private async inherit(added: string[]): Promise<void> {
    if (!added.length) return;
    const client = this.parts.client();
    const [paused, limits, ...held] = await Promise.all([
      client.hget(this.base.keys.meta, META_FIELDS.paused),
      client.hgetall(this.base.keys.groupLimits),
      ...added.map((mark) => client.hgetall(this.lane(mark).keys.groupLimits)),
    ]);
    const calls: ScriptCall<unknown>[] = [];
    added.forEach((mark, n) => {
      const { keys } = this.lane(mark);
      calls.push(scripts.setPaused(keys, paused === '1'));
      const groups = new Map<string, [string, string][]>();
      const add = (entry: string, value: string) => {
        const at = entry.lastIndexOf('|');
        const field = entry.slice(at + 1);
        if (field === GROUP_FIELDS.limitedUntil) return; // a handler's hold, of one partition's tasks
        const group = entry.slice(0, at);
        groups.set(group, [...(groups.get(group) ?? []), [field, value]]);
      };
      for (const entry of Object.keys(held[n]!)) if (!(entry in limits)) add(entry, ''); // '' removes it
      for (const [entry, value] of Object.entries(limits)) add(entry, value);
      for (const [group, fields] of groups) calls.push(scripts.configureGroup(keys, group, fields));
    });
    for (let at = 0; at < calls.length; at += INHERIT_CALLS_AT_ONCE) {
      await Promise.all(calls.slice(at, at + INHERIT_CALLS_AT_ONCE).map((call) => runScript(client, call)));
    }
  }

  /** The partition of a group (its tasks, limits and pause live there). */
  groupLane(layout: Layout, group: string): Lane<P, R> {
    return this.lane(layout.marks[routingHash(`group:${group}`) % layout.partitions]!);
  }

  async close(): Promise<void> {
    await Promise.all([...this.lanes.values()].map((lane) => lane.close()));
  }
}

/** How a merged page of one state is ordered. */
function orderOf<P, R>(state: TaskState): (a: TaskInfo<P, R>, b: TaskInfo<P, R>) => number {
  switch (state) {
    case 'waiting':
      return (a, b) => b.priority - a.priority || a.createdAt - b.createdAt;
    case 'delayed':
      return (a, b) => (a.runAt ?? 0) - (b.runAt ?? 0);
    case 'active':
      return (a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0);
    case 'dependencies':
      return (a, b) => a.createdAt - b.createdAt;
    default:
      return (a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0);
  }
}
