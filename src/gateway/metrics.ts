/**
 * Prometheus text exposition, written by hand (a few counters and histograms do not need a
 * client library), and the latency observer.
 *
 * Queue sizes and lifetime counters are read from Redis at each scrape, so they are the
 * same whichever gateway is scraped. Latency histograms are this gateway's observations:
 * from its first scrape of a queue on, it listens to the queue's completions and failures
 * and reads the timestamps of up to SAMPLE_PER_BATCH tasks of each announced batch.
 */
import type { Admin } from '../admin/admin.js';

const LATENCY_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const SAMPLE_PER_BATCH = 100;

type Labels = Record<string, string>;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabel(value)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export function header(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
}

export class Counter {
  private readonly series = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels, by = 1): void {
    const key = formatLabels(labels);
    this.series.set(key, (this.series.get(key) ?? 0) + by);
  }

  render(): string[] {
    return [...header(this.name, 'counter', this.help), ...[...this.series].map(([labels, value]) => `${this.name}${labels} ${value}`)];
  }
}

interface HistogramSeries {
  labels: Labels;
  buckets: number[];
  sum: number;
  count: number;
}

export class Histogram {
  private readonly series = new Map<string, HistogramSeries>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[] = LATENCY_BUCKETS_S,
  ) {}

  observe(labels: Labels, value: number): void {
    const key = formatLabels(labels);
    let series = this.series.get(key);
    if (!series) this.series.set(key, (series = { labels, buckets: this.bounds.map(() => 0), sum: 0, count: 0 }));
    this.bounds.forEach((bound, index) => {
      if (value <= bound) series.buckets[index]! += 1;
    });
    series.sum += value;
    series.count += 1;
  }

  render(): string[] {
    const lines = header(this.name, 'histogram', this.help);
    for (const series of this.series.values()) {
      this.bounds.forEach((bound, index) => {
        lines.push(`${this.name}_bucket${formatLabels({ ...series.labels, le: String(bound) })} ${series.buckets[index]}`);
      });
      lines.push(`${this.name}_bucket${formatLabels({ ...series.labels, le: '+Inf' })} ${series.count}`);
      lines.push(`${this.name}_sum${formatLabels(series.labels)} ${series.sum}`);
      lines.push(`${this.name}_count${formatLabels(series.labels)} ${series.count}`);
    }
    return lines;
  }
}

/** What the gateway itself measures between scrapes. */
export class GatewayMetrics {
  readonly httpRequests = new Counter('errand_http_requests_total', 'HTTP requests answered by this gateway, by route and status.');
  readonly httpDuration = new Histogram('errand_http_request_duration_seconds', 'Time this gateway took to answer, by route (event streams excluded).');
  readonly taskLatency = new Histogram(
    'errand_task_latency_seconds',
    'Enqueue to final state (delays and retries included), for tasks this gateway saw finish.',
  );
  readonly taskWait = new Histogram('errand_task_wait_seconds', 'Due to start of the last attempt (time spent waiting for a worker), for tasks this gateway saw finish.');
  readonly taskRun = new Histogram('errand_task_run_seconds', 'Start to end of the last attempt (handler time), for tasks this gateway saw finish.');
  /** The task events listened to, per queue: a Queue object the admin closed (unused) gets a new one. */
  private readonly observed = new Map<string, object>();

  constructor(private readonly admin: Admin) {}

  /**
   * Starts listening to a queue's completions (once); resolves when the subscription is
   * active, or failed (Redis down: the next scrape tries again on the same subscription).
   */
  async observe(queue: string): Promise<void> {
    const events = this.admin.queue(queue).events;
    if (this.observed.get(queue) !== events) {
      this.observed.set(queue, events);
      events.onOutcome((state, ids) => {
        if (state === 'completed' || state === 'failed') void this.record(queue, state, ids).catch(() => {});
      });
    }
    await events.ready().catch(() => {});
  }

  private async record(queue: string, outcome: string, ids: readonly string[]): Promise<void> {
    const times = await this.admin.taskTimes(queue, ids.slice(0, SAMPLE_PER_BATCH));
    const labels = { queue, outcome };
    for (const t of times) {
      if (!t?.finishedAt) continue;
      this.taskLatency.observe(labels, (t.finishedAt - t.createdAt) / 1000);
      if (t.startedAt === undefined) continue; // cancelled before it ever ran
      this.taskWait.observe(labels, Math.max(0, t.startedAt - Math.max(t.createdAt, t.runAt ?? 0)) / 1000);
      this.taskRun.observe(labels, (t.finishedAt - t.startedAt) / 1000);
    }
  }

  /** The whole exposition: queue state from Redis, then this gateway's own series. */
  async render(): Promise<string> {
    const overview = await this.admin.overview();
    const totals = await Promise.all(overview.map((queue) => this.admin.totals(queue.name)));
    const lines: string[] = [];
    lines.push(...header('errand_queue_tasks', 'gauge', 'Tasks held by each queue now, by state (finished states as retained).'));
    for (const queue of overview) {
      for (const state of ['waiting', 'delayed', 'active', 'completed', 'failed', 'cancelled'] as const) {
        lines.push(`errand_queue_tasks${formatLabels({ queue: queue.name, state })} ${queue[state]}`);
      }
    }
    lines.push(...header('errand_queue_paused', 'gauge', '1 while the queue is paused.'));
    for (const queue of overview) lines.push(`errand_queue_paused${formatLabels({ queue: queue.name })} ${queue.paused ? 1 : 0}`);
    const counters = [
      ['enqueued', 'Tasks created in the queue since it was first used (all producers).'],
      ['completed', 'Tasks completed since the queue was first used (all workers).'],
      ['failed', 'Tasks that failed for good (dead-lettered) since the queue was first used.'],
    ] as const;
    for (const [kind, help] of counters) {
      lines.push(...header(`errand_tasks_${kind}_total`, 'counter', help));
      overview.forEach((queue, index) => {
        lines.push(`errand_tasks_${kind}_total${formatLabels({ queue: queue.name })} ${totals[index]![kind]}`);
      });
    }
    await Promise.all(overview.map((queue) => this.observe(queue.name)));
    for (const metric of [this.taskLatency, this.taskWait, this.taskRun, this.httpRequests, this.httpDuration]) {
      lines.push(...metric.render());
    }
    return `${lines.join('\n')}\n`;
  }
}
