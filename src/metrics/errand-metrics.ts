/**
 * Errand's Prometheus series on prom-client, for the gateway's /metrics and for users'
 * own processes (`errand/metrics`): one registry holding
 *
 * - queue state read from Redis at each scrape (sizes by state, paused, lifetime counters,
 *   live workers, groups with tasks, how long the oldest waiting task has waited, how late
 *   the most overdue schedule slot is), so every process that
 *   exposes them reports the same values, and they survive restarts;
 * - durable topics read the same way (length, and per group lag and pending; dead letters);
 * - task latency histograms this process observes: from its first scrape of a queue on, it
 *   listens to the queue's completions and failures and reads the timestamps of up to
 *   SAMPLE_PER_BATCH tasks of each announced batch;
 * - Node's process metrics (event-loop lag, heap, GC, CPU), prom-client's defaults.
 *
 * All reads go through the admin layer. One scrape reads Redis once: the collectors of a
 * scrape share one snapshot.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Admin } from '../admin/admin.js';
import type { QueueSummary, QueueTotals } from '../admin/admin.js';
import type { TopicInfo } from '../broadcast/topic-info.js';
import type { ConnectionOption } from '../config.js';

export const LATENCY_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const SAMPLE_PER_BATCH = 100;
const STATES = ['waiting', 'delayed', 'active', 'completed', 'failed', 'cancelled', 'dependencies'] as const;

export interface ErrandMetricsOptions {
  /** Where Redis is (as for Queue). Not with `admin`. */
  connection?: ConnectionOption;
  /** The key prefix of the queues and topics to report. Default 'errand'. Not with `admin`. */
  prefix?: string;
  /** @internal The gateway passes its own admin (and closes it itself). */
  admin?: Admin;
  /** The registry to add the series to (e.g. your app's). Default: a new one, `metrics.registry`. */
  registry?: Registry;
  /** Add Node's process metrics (event-loop lag, heap, GC, CPU). Default true; false when your registry has them already. */
  processMetrics?: boolean;
}

interface Snapshot {
  queues: QueueSummary[];
  totals: QueueTotals[];
  workers: Map<string, number>;
  oldestWaitingMs: (number | null)[];
  topics: TopicInfo[];
  /** Per queue (as `queues`): how late its most overdue schedule slot is, in ms; undefined without schedules. */
  scheduleLagMs: (number | undefined)[];
}

export class ErrandMetrics {
  readonly registry: Registry;
  private readonly admin: Admin;
  private readonly ownsAdmin: boolean;
  /** The task events listened to, per queue: a Queue object the admin closed (unused) gets a new one. */
  private readonly observed = new Map<string, object>();
  private readonly unsubscribes: (() => void)[] = [];
  private snapshotting: Promise<Snapshot> | undefined;
  private readonly taskLatency: Histogram<'queue' | 'outcome'>;
  private readonly taskWait: Histogram<'queue' | 'outcome'>;
  private readonly taskRun: Histogram<'queue' | 'outcome'>;

  constructor(options: ErrandMetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    this.ownsAdmin = options.admin === undefined;
    this.admin = options.admin ?? new Admin({ connection: options.connection, prefix: options.prefix });
    const registers = [this.registry];
    const metrics = this;
    const fromSnapshot = <L extends string>(fill: (gauge: Gauge<L> | Counter<L>, snapshot: Snapshot) => void) =>
      async function (this: Gauge<L> | Counter<L>) {
        const snapshot = await metrics.snapshot();
        this.reset();
        fill(this, snapshot);
      };

    new Gauge({
      name: 'errand_queue_tasks',
      help: 'Tasks held by each queue now, by state (finished states as retained).',
      labelNames: ['queue', 'state'],
      registers,
      collect: fromSnapshot<'queue' | 'state'>((gauge, { queues }) => {
        for (const queue of queues) for (const state of STATES) (gauge as Gauge<'queue' | 'state'>).set({ queue: queue.name, state }, queue[state]);
      }),
    });
    new Gauge({
      name: 'errand_queue_partition_tasks',
      help: "Tasks held by each partition of a partitioned queue now, by state (errand_queue_tasks has the queue's sums).",
      labelNames: ['queue', 'partition', 'state'],
      registers,
      collect: fromSnapshot<'queue' | 'partition' | 'state'>((gauge, { queues }) => {
        for (const queue of queues) {
          for (const part of queue.partitions ?? []) {
            for (const state of STATES) (gauge as Gauge<'queue' | 'partition' | 'state'>).set({ queue: queue.name, partition: String(part.partition), state }, part[state]);
          }
        }
      }),
    });
    new Gauge({
      name: 'errand_queue_paused',
      help: '1 while the queue is paused.',
      labelNames: ['queue'],
      registers,
      collect: fromSnapshot<'queue'>((gauge, { queues }) => {
        for (const queue of queues) (gauge as Gauge<'queue'>).set({ queue: queue.name }, queue.paused ? 1 : 0);
      }),
    });
    const counters = [
      ['enqueued', 'Tasks created in the queue since it was first used (all producers).'],
      ['completed', 'Tasks completed since the queue was first used (all workers).'],
      ['failed', 'Tasks that failed for good (dead-lettered) since the queue was first used.'],
    ] as const;
    for (const [kind, help] of counters) {
      // Counters kept by the scripts in Redis: each scrape reports their current value.
      new Counter({
        name: `errand_tasks_${kind}_total`,
        help,
        labelNames: ['queue'],
        registers,
        collect: fromSnapshot<'queue'>((counter, { queues, totals }) => {
          queues.forEach((queue, index) => (counter as Counter<'queue'>).inc({ queue: queue.name }, totals[index]![kind]));
        }),
      });
    }
    new Gauge({
      name: 'errand_queue_workers',
      help: 'Workers of the queue with a recent heartbeat (any process, any host).',
      labelNames: ['queue'],
      registers,
      collect: fromSnapshot<'queue'>((gauge, { queues, workers }) => {
        for (const queue of queues) (gauge as Gauge<'queue'>).set({ queue: queue.name }, workers.get(queue.name) ?? 0);
      }),
    });
    new Gauge({
      name: 'errand_queue_groups',
      help: 'Groups of the queue with waiting tasks (0 for a queue without groups).',
      labelNames: ['queue'],
      registers,
      collect: fromSnapshot<'queue'>((gauge, { queues }) => {
        for (const queue of queues) (gauge as Gauge<'queue'>).set({ queue: queue.name }, queue.groups);
      }),
    });
    new Gauge({
      name: 'errand_queue_oldest_waiting_seconds',
      help: 'How long the longest-waiting task of the queue has been due without a worker taking it (0 when none waits; tasks of groups are not read).',
      labelNames: ['queue'],
      registers,
      collect: fromSnapshot<'queue'>((gauge, { queues, oldestWaitingMs }) => {
        queues.forEach((queue, index) => (gauge as Gauge<'queue'>).set({ queue: queue.name }, (oldestWaitingMs[index] ?? 0) / 1000));
      }),
    });
    new Gauge({
      name: 'errand_schedule_lag_seconds',
      help: 'How late the most overdue schedule slot of the queue is: now minus the due time of the oldest due slot no worker has taken yet (0 when none is due; only queues with schedules).',
      labelNames: ['queue'],
      registers,
      collect: fromSnapshot<'queue'>((gauge, { queues, scheduleLagMs }) => {
        queues.forEach((queue, index) => {
          const lag = scheduleLagMs[index];
          if (lag !== undefined) (gauge as Gauge<'queue'>).set({ queue: queue.name }, lag / 1000);
        });
      }),
    });
    new Gauge({
      name: 'errand_topic_messages',
      help: 'Messages a durable topic retains now.',
      labelNames: ['topic'],
      registers,
      collect: fromSnapshot<'topic'>((gauge, { topics }) => {
        for (const topic of topics) (gauge as Gauge<'topic'>).set({ topic: topic.name }, topic.length);
      }),
    });
    new Gauge({
      name: 'errand_topic_dead_letters',
      help: 'Dead letters a durable topic keeps (messages a group gave up on).',
      labelNames: ['topic'],
      registers,
      collect: fromSnapshot<'topic'>((gauge, { topics }) => {
        for (const topic of topics) (gauge as Gauge<'topic'>).set({ topic: topic.name }, topic.deadLetters);
      }),
    });
    new Gauge({
      name: 'errand_topic_group_lag',
      help: 'Retained messages a subscriber group has not read yet (absent when Redis cannot tell).',
      labelNames: ['topic', 'group'],
      registers,
      collect: fromSnapshot<'topic' | 'group'>((gauge, { topics }) => {
        for (const topic of topics) {
          for (const group of topic.groups) if (group.lag !== null) (gauge as Gauge<'topic' | 'group'>).set({ topic: topic.name, group: group.name }, group.lag);
        }
      }),
    });
    new Gauge({
      name: 'errand_topic_group_pending',
      help: 'Messages handed to a member of the group and not yet acknowledged or dead-lettered.',
      labelNames: ['topic', 'group'],
      registers,
      collect: fromSnapshot<'topic' | 'group'>((gauge, { topics }) => {
        for (const topic of topics) for (const group of topic.groups) (gauge as Gauge<'topic' | 'group'>).set({ topic: topic.name, group: group.name }, group.pending);
      }),
    });
    const histogram = (name: string, help: string) =>
      new Histogram({ name, help, labelNames: ['queue', 'outcome'], buckets: LATENCY_BUCKETS_S, registers });
    this.taskLatency = histogram('errand_task_latency_seconds', 'Enqueue to final state (delays and retries included), for tasks this process saw finish.');
    this.taskWait = histogram('errand_task_wait_seconds', 'Due to start of the last attempt (time spent waiting for a worker), for tasks this process saw finish.');
    this.taskRun = histogram('errand_task_run_seconds', 'Start to end of the last attempt (handler time), for tasks this process saw finish.');
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition text of the registry (all its series, yours too when you passed your registry). */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** The Content-Type of `metrics()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Starts listening to a queue's completions (once); resolves when the subscription is
   * active, or failed (Redis down: the next scrape tries again on the same subscription).
   */
  async observe(queue: string): Promise<void> {
    const handle = this.admin.queue(queue);
    // Every partition of a partitioned queue (its layout read now; one for the others).
    const partitions = await handle.partitionEvents().catch(() => [{ mark: '', events: handle.events }]);
    for (const { mark, events } of partitions) {
      const key = `${queue}\u0000${mark}`;
      if (this.observed.get(key) === events) continue;
      this.observed.set(key, events);
      this.unsubscribes.push(
        events.onOutcome((state, ids) => {
          // A lost sample is only a missing observation: the histograms are a sample anyway.
          if (state === 'completed' || state === 'failed') void this.record(queue, mark, state, ids).catch(() => {});
        }),
      );
    }
    await Promise.all(partitions.map(({ events }) => events.ready().catch(() => {})));
  }

  /** Stops listening; closes the Redis connections it opened. The registry stays as it is. */
  async close(): Promise<void> {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    if (this.ownsAdmin) await this.admin.close();
  }

  /** One read of everything the scrape reports, shared by the collectors of that scrape. */
  private snapshot(): Promise<Snapshot> {
    this.snapshotting ??= this.read().finally(() => {
      this.snapshotting = undefined;
    });
    return this.snapshotting;
  }

  private async read(): Promise<Snapshot> {
    const queues = await this.admin.overview();
    const names = queues.map((queue) => queue.name);
    const now = await this.admin.redisNowMs();
    const [totals, workerList, oldestWaitingMs, topics, scheduleLag] = await Promise.all([
      Promise.all(names.map((name) => this.admin.totals(name))),
      this.admin.workers(),
      Promise.all(names.map((name) => this.admin.oldestWaitingMs(name))),
      this.admin.topics.overview(),
      Promise.all(names.map((name) => this.admin.scheduleLagMs(name, now))),
      Promise.all(names.map((name) => this.observe(name))),
    ]);
    const workers = new Map<string, number>();
    for (const worker of workerList) workers.set(worker.queue, (workers.get(worker.queue) ?? 0) + 1);
    return { queues, totals, workers, oldestWaitingMs, topics, scheduleLagMs: scheduleLag };
  }

  /** Samples of one outcome event of one partition (`mark`: its partition's). */
  private async record(queue: string, mark: string, outcome: string, ids: readonly string[]): Promise<void> {
    const times = await this.admin.taskTimes(queue, ids.slice(0, SAMPLE_PER_BATCH), mark);
    const labels = { queue, outcome };
    for (const t of times) {
      if (!t?.finishedAt) continue;
      this.taskLatency.observe(labels, (t.finishedAt - t.createdAt) / 1000);
      if (t.startedAt === undefined) continue; // cancelled before it ever ran
      this.taskWait.observe(labels, Math.max(0, t.startedAt - Math.max(t.createdAt, t.runAt ?? 0)) / 1000);
      this.taskRun.observe(labels, (t.finishedAt - t.startedAt) / 1000);
    }
  }
}
