// The Prometheus series people scrape: every errand_* family the gateway exposed before it
// moved onto prom-client keeps its name, type and labels (the catalogue below is the
// /metrics of before, read from a gateway that served a request and saw a task finish);
// the series added since (workers, oldest waiting task, topics, Node's process metrics);
// and the same series in a user's own process through errand/metrics.
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { Topic } from '../src/index.js';
import { ErrandMetrics } from '../src/metrics/index.js';
import { QueueKeys, TASK_FIELDS } from '../src/redis/keys.js';
import { call, useGatewayIn } from './support/gateway.js';
import { deferred, useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

/** Family name -> its type and the sorted label names of its samples (le and quantile aside). */
function catalogue(text: string): Record<string, { type: string; labels: string }> {
  const families: Record<string, { type: string; labels: Set<string> }> = {};
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families[match[1]!] = { type: match[2]!, labels: new Set() };
  for (const line of text.split('\n')) {
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!sample) continue;
    const family = Object.keys(families).find((name) => sample[1] === name || /^_(bucket|sum|count)$/.test(sample[1]!.slice(name.length)) && sample[1]!.startsWith(name));
    if (!family) continue;
    const labels = [...(sample[2] ?? '').matchAll(/(\w+)="/g)].map((m) => m[1]!).filter((name) => name !== 'le' && name !== 'quantile');
    for (const label of labels) families[family]!.labels.add(label);
  }
  return Object.fromEntries(Object.entries(families).map(([name, { type, labels }]) => [name, { type, labels: [...labels].sort().join(',') }]));
}

export const SERIES_BEFORE_PROM_CLIENT = {
  errand_queue_tasks: { type: 'gauge', labels: 'queue,state' },
  errand_queue_paused: { type: 'gauge', labels: 'queue' },
  errand_tasks_enqueued_total: { type: 'counter', labels: 'queue' },
  errand_tasks_completed_total: { type: 'counter', labels: 'queue' },
  errand_tasks_failed_total: { type: 'counter', labels: 'queue' },
  errand_task_latency_seconds: { type: 'histogram', labels: 'outcome,queue' },
  errand_task_wait_seconds: { type: 'histogram', labels: 'outcome,queue' },
  errand_task_run_seconds: { type: 'histogram', labels: 'outcome,queue' },
  errand_http_requests_total: { type: 'counter', labels: 'method,route,status' },
  errand_http_request_duration_seconds: { type: 'histogram', labels: 'method,route' },
};

describe('GET /metrics', () => {
  it('keeps every series of before, with its name, type and labels', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    await call(gw, 'GET', '/metrics'); // the first scrape starts observing queues
    await call(gw, 'POST', '/v1/queues/m/tasks', { payload: 1 });
    await call(gw, 'GET', '/metrics');
    s.worker('m', async () => 'done');
    await call(gw, 'POST', '/v1/queues/m/tasks?wait=10000', { payload: 2 });
    const text = await vi.waitFor(async () => {
      const scraped = (await call(gw, 'GET', '/metrics')).text;
      expect(scraped).toMatch(/errand_task_run_seconds_count\{queue="m",outcome="completed"\} [12]\n/);
      return scraped;
    });
    const errand = Object.fromEntries(Object.entries(catalogue(text)).filter(([name]) => name.startsWith('errand_')));
    expect(errand).toMatchObject(SERIES_BEFORE_PROM_CLIENT);
    expect(text).toContain('errand_queue_tasks{queue="m",state="completed"} 2');
    expect(text).toContain('errand_tasks_enqueued_total{queue="m"} 2');
    expect(text).toContain('errand_queue_paused{queue="m"} 0');
  });
});

/** The value of one sample, by its exact name and labels as printed. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('the series added with prom-client', () => {
  it('report live workers, the oldest waiting task, topics and Node itself', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const held = deferred();
    const running = deferred();
    s.worker('busy', async () => {
      running.resolve();
      await held.promise;
    });
    const busy = s.queue('busy');
    await busy.enqueue(1);
    await running.promise;
    const slow = s.queue('slow');
    await slow.enqueue('old', { priority: -5 });
    await slow.enqueue('new', { priority: 5 });
    await slow.enqueueMany([{ payload: 'a', group: 'tenant-a' }, { payload: 'b', group: 'tenant-b' }]);
    // A schedule whose slot falls due while no worker of its queue claims: it lags.
    const unserved = s.queue('unserved');
    const schedule = await unserved.schedule('tick', { everyMs: 1_000 });
    const topic = s.add(new Topic<{ id: string }>('orders', { connection: redis.url, prefix: s.prefix }));
    const holding = deferred();
    const members = topic.subscribe('billing', async (order: { id: string }) => {
      if (order.id === 'o-1') throw new Error('no');
      holding.resolve();
      await held.promise; // o-2 stays pending
    }, { attempts: 1, leaseMs: 5_000 });
    await members.ready();
    s.add({ close: () => members.close({ timeoutMs: 1_000 }) });
    members.on('error', () => {});
    const dead = new Promise((resolve) => members.on('failed', resolve));
    await topic.publish({ id: 'o-1' });
    await dead;
    await topic.publish({ id: 'o-2' });
    await holding.promise;

    const text = await vi.waitFor(async () => {
      const scraped = (await call(gw, 'GET', '/metrics')).text;
      expect(sample(scraped, 'errand_topic_dead_letters{topic="orders"}')).toBe(1);
      return scraped;
    });
    expect(sample(text, 'errand_queue_workers{queue="busy"}')).toBe(1);
    expect(sample(text, 'errand_queue_workers{queue="slow"}')).toBe(0);
    expect(sample(text, 'errand_queue_groups{queue="slow"}')).toBe(2);
    expect(sample(text, 'errand_queue_groups{queue="busy"}')).toBe(0);
    expect(sample(text, 'errand_schedule_lag_seconds{queue="busy"}')).toBeUndefined();
    const lagged = await vi.waitFor(async () => {
      const scraped = (await call(gw, 'GET', '/metrics')).text;
      expect(sample(scraped, 'errand_schedule_lag_seconds{queue="unserved"}')).toBeGreaterThan(0);
      return sample(scraped, 'errand_schedule_lag_seconds{queue="unserved"}')!;
    }, { timeout: 5_000 });
    const [seconds] = await s.client().time();
    expect(lagged).toBeLessThanOrEqual(Number(seconds) + 1 - schedule.nextRunAt! / 1000);
    expect(sample(text, 'errand_queue_oldest_waiting_seconds{queue="busy"}')).toBe(0);
    expect(sample(text, 'errand_queue_oldest_waiting_seconds{queue="slow"}')).toBeGreaterThan(0);
    expect(sample(text, 'errand_topic_messages{topic="orders"}')).toBe(2);
    expect(sample(text, 'errand_topic_group_pending{topic="orders",group="billing"}')).toBe(1);
    expect(sample(text, 'errand_topic_group_lag{topic="orders",group="billing"}')).toBe(0);
    for (const family of ['nodejs_eventloop_lag_seconds gauge', 'nodejs_heap_size_used_bytes gauge', 'nodejs_gc_duration_seconds histogram', 'process_cpu_seconds_total counter']) {
      expect(text).toContain(`# TYPE ${family}`);
    }
    held.resolve();
  });

  it('oldest waiting: the oldest task of any priority level, not the next to run', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const queue = s.queue('levels');
    const low = await queue.enqueue('low', { priority: -1 });
    await queue.enqueue('high', { priority: 1 }); // runs first, but is not the oldest
    // Backdate the low-priority task by a minute (its creation time, field "c" of its hash).
    await s.client().hset(new QueueKeys(s.prefix, 'levels').task(low.id), TASK_FIELDS.createdAt, Date.now() - 60_000);
    const age = sample((await call(gw, 'GET', '/metrics')).text, 'errand_queue_oldest_waiting_seconds{queue="levels"}')!;
    expect(age).toBeGreaterThanOrEqual(59);
    expect(age).toBeLessThan(120);
  });
});

describe('metrics of a partitioned queue', () => {
  it('sum the lifetime counters over partitions, break tasks down by partition, and see the oldest task in any partition', async () => {
    const s = scope();
    const registry = new Registry();
    s.add(new ErrandMetrics({ connection: redis.url, prefix: s.prefix, registry, processMetrics: false }));
    const queue = s.queue<number>('split');
    await queue.configure({ partitions: 3 });
    // Small batches go whole to the next partition in turn: one batch each.
    const tasks = (await Promise.all([0, 1, 2].map(() => queue.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ payload: i })))))).flat();
    // Backdate a task of a partition other than the first by a minute (field "c": its creation time).
    const later = tasks.find((task) => /~2$/.test(task.id))!;
    await s.client().hset(new QueueKeys(s.prefix, `split${later.id.slice(later.id.indexOf('~'))}`).task(later.id), TASK_FIELDS.createdAt, Date.now() - 60_000);
    const text = await registry.metrics();
    expect(sample(text, 'errand_tasks_enqueued_total{queue="split"}')).toBe(30);
    expect(sample(text, 'errand_queue_tasks{queue="split",state="waiting"}')).toBe(30);
    for (const partition of ['0', '1', '2']) expect(sample(text, `errand_queue_partition_tasks{queue="split",partition="${partition}",state="waiting"}`)).toBe(10);
    expect(sample(text, 'errand_queue_oldest_waiting_seconds{queue="split"}')).toBeGreaterThanOrEqual(59);
  });
});

describe('errand/metrics in a user\'s process', () => {
  it('adds the same series to the user\'s registry, beside the user\'s own', async () => {
    const s = scope();
    const registry = new Registry();
    const metrics = s.add(new ErrandMetrics({ connection: redis.url, prefix: s.prefix, registry, processMetrics: false }));
    await s.queue('emails').enqueue({ to: 'ada@example.com' });
    const text = await registry.metrics();
    expect(sample(text, 'errand_queue_tasks{queue="emails",state="waiting"}')).toBe(1);
    expect(sample(text, 'errand_tasks_enqueued_total{queue="emails"}')).toBe(1);
    expect(text).not.toContain('nodejs_heap_size_used_bytes');
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await metrics.metrics()).toContain('# TYPE errand_task_latency_seconds histogram');
  });
});
