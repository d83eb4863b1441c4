// The Prometheus series people scrape: every errand_* family the gateway exposed before it
// moved onto prom-client keeps its name, type and labels (the catalogue below is today's
// /metrics, read from a gateway that served a request and saw a task finish).
import { describe, expect, it, vi } from 'vitest';
import { call, useGatewayIn } from './support/gateway.js';
import { useRedis, useScope } from './support/fixtures.js';

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
