/**
 * Scenario 6, the HTTP gateway's overhead (Errand only: the peers have no HTTP API).
 *
 * The gateway runs in its own process (bench/gateway-child.ts) on a loopback port, against
 * the bench's Redis, with its defaults. Each run enqueues `tasks` tasks twice, in the same
 * load shape (`inFlight` in flight, each waiting for its answer before sending the next):
 * - through the library: `inFlight` lanes awaiting `queue.enqueue()` (as enqueue.one does);
 * - over HTTP: autocannon with `inFlight` keep-alive connections, pipelining 1, sending
 *   `POST /v1/queues/<queue>/tasks` with a `{ "payload": { i, t } }` body, `tasks` requests
 *   in all.
 * Both are warmed up first (into other queues, unrecorded), the HTTP side also warms the
 * gateway process's JIT. Timing starts just before the first call and ends at the last
 * answer. Latencies are per call (library) and per request (autocannon's response time),
 * summarized by nearest rank like every other latency here. Each side also records the
 * producer's CPU per task (the bench process for the library, the gateway process for
 * HTTP) and Redis's. Then as many requests over as many connections go to a bare
 * node:http server in the gateway's process (bench/floor-server.ts: read, parse, answer
 * 201), at its own rate: its CPU per request is this machine's floor for any Node HTTP
 * server, and the gateway's own cost is what it spends above it (on a 2-core VM the
 * loopback socket calls alone are 15-20 µs a request). Any answer but 201, any request error, or a queue that does not hold exactly as many waiting
 * tasks as there were 201 answers is a correctness problem.
 */
import autocannon from 'autocannon';
import { nowUs } from '../clock.js';
import { redisWork, type Harness } from '../harness.js';
import type { BenchSettings } from '../settings.js';
import { summarizeLatencyUs, type LatencySummary } from '../stats.js';
import type { BenchSystem, Producer } from '../systems/types.js';
import { checkCounts, payload } from './common.js';
import { emptySample, requireSystem, type MetricDef, type Scenario, type ScenarioCase } from './types.js';

const PERCENTILES = ['p50', 'p95', 'p99', 'max'] as const;
/** Generous: the gateway on a loaded 2-core machine still answers well over 200 requests/s. */
const MIN_REQUESTS_PER_S = 200;
/** autocannon's per-request timeout, s; a timed-out request is an error, so a problem. */
const REQUEST_TIMEOUT_S = 10;
/**
 * Warm-up size, at most the measured count: on this machine the gateway process needs a
 * few thousand requests before its CPU per request settles (JIT); 2,500 were not enough.
 */
const MAX_WARMUP = 5_000;

interface Side {
  tasks: number;
  ms: number;
  latency: LatencySummary;
  /** CPU of the process that turns calls into Redis commands, µs per task. */
  producerCpuUsPerTask: number;
  redis: Record<string, unknown> & { cpuUsPerTask: number };
}

function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** `tasks` enqueue calls over `inFlight` lanes, each call timed. */
async function libraryLanes(producer: Producer, tasks: number, inFlight: number): Promise<number[]> {
  const latenciesUs: number[] = [];
  let next = 0;
  const lane = async () => {
    while (next < tasks) {
      const task = payload(next++);
      await producer.enqueueOne(task);
      latenciesUs.push(nowUs() - task.t);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, tasks) }, lane));
  return latenciesUs;
}

async function librarySide(harness: Harness, system: BenchSystem, tasks: number, inFlight: number, warmup: number): Promise<Side & { problems: string[] }> {
  const warm = await system.openProducer({ redis: harness.redis, queue: harness.queueName('http-lib-warm'), awaitResults: false });
  try {
    await libraryLanes(warm, warmup, inFlight);
  } finally {
    await warm.close();
  }
  const producer = await system.openProducer({ redis: harness.redis, queue: harness.queueName('http-lib'), awaitResults: false });
  try {
    const before = await harness.redisStats();
    const cpuBefore = cpuUs();
    const startUs = nowUs();
    const latenciesUs = await libraryLanes(producer, tasks, inFlight);
    const ms = (nowUs() - startUs) / 1000;
    const producerCpuUsPerTask = (cpuUs() - cpuBefore) / tasks;
    const redis = redisWork(before, await harness.redisStats(), tasks) as Side['redis'];
    const problems = checkCounts(await producer.counts(), { waiting: tasks, active: 0, completed: 0, failed: 0, delayed: 0 });
    return { tasks, ms, latency: summarizeLatencyUs(latenciesUs), producerCpuUsPerTask, redis, problems: problems.map((p) => `library: ${p}`) };
  } finally {
    await producer.close();
  }
}

interface Load {
  ms: number;
  latenciesUs: number[];
  statusCodes: Record<string, number>;
  created: number;
  errors: number;
  timeouts: number;
  problems: string[];
}

/** Sends `requests` POSTs over `connections` connections; bounded in time. */
function postTasks(url: string, queue: string, requests: number, connections: number): Promise<Load> {
  const body = JSON.stringify({ payload: payload(0) });
  const boundMs = 30_000 + (requests / MIN_REQUESTS_PER_S) * 1000;
  const latenciesUs: number[] = [];
  let lastUs = 0;
  return new Promise((resolve, reject) => {
    const startUs = nowUs();
    let stopped = false;
    const timer = setTimeout(() => {
      stopped = true;
      instance.stop();
    }, boundMs);
    const instance = autocannon(
      {
        url: `${url}/v1/queues/${encodeURIComponent(queue)}/tasks`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        connections,
        pipelining: 1,
        amount: requests,
        timeout: REQUEST_TIMEOUT_S,
      },
      (error: unknown, result) => {
        clearTimeout(timer);
        if (error) return reject(error instanceof Error ? error : new Error(String(error)));
        const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, stat.count ?? 0]));
        const answered = Object.values(statusCodes).reduce((sum, count) => sum + count, 0);
        const created = statusCodes['201'] ?? 0;
        const problems: string[] = [];
        if (stopped) problems.push(`stopped after ${boundMs} ms with ${answered} of ${requests} requests answered`);
        else if (answered !== requests) problems.push(`${answered} of ${requests} requests answered`);
        if (created !== answered) problems.push(`answers other than 201: ${JSON.stringify(statusCodes)}`);
        if (result.errors) problems.push(`${result.errors} request errors (${result.timeouts} timeouts after ${REQUEST_TIMEOUT_S} s)`);
        resolve({ ms: (lastUs - startUs) / 1000, latenciesUs, statusCodes, created, errors: result.errors, timeouts: result.timeouts, problems });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTimeMs) => {
      lastUs = nowUs();
      latenciesUs.push(responseTimeMs * 1000);
    });
  });
}

async function httpSide(
  harness: Harness,
  system: BenchSystem,
  tasks: number,
  inFlight: number,
  warmup: number,
): Promise<Side & { load: Omit<Load, 'latenciesUs'>; generatorCpuUsPerTask: number; floorCpuUsPerRequest: number; floorMs: number }> {
  const gateway = await harness.gateway();
  const connections = Math.min(inFlight, warmup);
  const warm = await postTasks(gateway.url, harness.queueName('http-warm'), warmup, connections);
  const queue = harness.queueName('http');
  const before = await harness.redisStats();
  const gatewayCpuBefore = await gateway.cpuUs();
  const generatorCpuBefore = cpuUs();
  const { latenciesUs, ...load } = await postTasks(gateway.url, queue, tasks, Math.min(inFlight, tasks));
  const generatorCpuUsPerTask = (cpuUs() - generatorCpuBefore) / tasks;
  const producerCpuUsPerTask = ((await gateway.cpuUs()) - gatewayCpuBefore) / tasks;
  const redis = redisWork(before, await harness.redisStats(), tasks) as Side['redis'];
  // The floor, in the same process and load shape (warmed up like the gateway): the same
  // connections, each waiting for its answer, so it runs at its own (higher) rate; its rate
  // is recorded beside it.
  const floorWarm = await postTasks(gateway.floorUrl, 'floor', warmup, connections);
  const floorCpuBefore = await gateway.cpuUs();
  const floor = await postTasks(gateway.floorUrl, 'floor', tasks, Math.min(inFlight, tasks));
  const floorCpuUsPerRequest = ((await gateway.cpuUs()) - floorCpuBefore) / tasks;
  load.problems = [
    ...warm.problems.map((p) => `warm-up: ${p}`),
    ...load.problems,
    ...[...floorWarm.problems, ...floor.problems].map((p) => `floor server: ${p}`),
  ];
  // What the generator was told was created must be exactly what the queue holds.
  const counter = await system.openProducer({ redis: harness.redis, queue, awaitResults: false });
  try {
    const counts = await counter.counts();
    load.problems.push(...checkCounts(counts, { waiting: load.created, active: 0, completed: 0, failed: 0, delayed: 0 }));
  } finally {
    await counter.close();
  }
  return {
    tasks,
    ms: load.ms,
    latency: summarizeLatencyUs(latenciesUs),
    producerCpuUsPerTask,
    redis,
    load,
    generatorCpuUsPerTask,
    floorCpuUsPerRequest,
    floorMs: floor.ms,
  };
}

function metricDefs(inFlight: number): MetricDef[] {
  const defs: MetricDef[] = [];
  const pair = (key: string, label: string, unit: string, better: MetricDef['better'], digits: number) => {
    defs.push({ key: `http.${key}`, label, unit, better, digits, versus: `http.library.${key}` });
    defs.push({ key: `http.library.${key}`, label: `library ${label}`, unit, better, digits });
  };
  pair('rate', `enqueue rate, ${inFlight} in flight`, 'tasks/s', 'higher', 0);
  for (const p of PERCENTILES) pair(p, `enqueue latency ${p}`, 'ms', 'lower', 2);
  pair('producerCpu', 'producer CPU per task (gateway process / bench process)', 'µs', 'lower', 1);
  pair('redisCpu', 'Redis CPU per task', 'µs', 'lower', 1);
  defs.push({ key: 'http.floorCpu', label: 'bare node:http server CPU per request, same connections (the floor)', unit: 'µs', better: 'lower', digits: 1 });
  defs.push({ key: 'http.floorRate', label: 'bare node:http server rate, same connections', unit: 'requests/s', better: 'higher', digits: 0 });
  defs.push({ key: 'http.ownCpu', label: 'gateway CPU per request above the floor (each run its own difference)', unit: 'µs', better: 'lower', digits: 1 });
  return defs;
}

function record(metrics: Record<string, number>, prefix: string, side: Side): void {
  metrics[`${prefix}.rate`] = (side.tasks / side.ms) * 1000;
  for (const p of PERCENTILES) metrics[`${prefix}.${p}`] = side.latency[p];
  metrics[`${prefix}.producerCpu`] = side.producerCpuUsPerTask;
  metrics[`${prefix}.redisCpu`] = side.redis.cpuUsPerTask;
}

function httpCase(settings: BenchSettings): ScenarioCase {
  const { tasks, inFlight } = settings;
  const warmup = Math.min(MAX_WARMUP, tasks);
  return {
    id: 'http',
    label: `HTTP enqueue, ${inFlight} connections`,
    metrics: metricDefs(inFlight),
    async run(harness, maybeSystem) {
      const system = requireSystem(maybeSystem);
      if (system.name !== 'errand') throw new Error('the HTTP scenario measures Errand’s gateway only');
      try {
        const library = await librarySide(harness, system, tasks, inFlight, warmup);
        const http = await httpSide(harness, system, tasks, inFlight, warmup);
        const sample = emptySample();
        record(sample.metrics, 'http', http);
        record(sample.metrics, 'http.library', library);
        sample.metrics['http.floorCpu'] = http.floorCpuUsPerRequest;
        sample.metrics['http.floorRate'] = (tasks / http.floorMs) * 1000;
        sample.metrics['http.ownCpu'] = http.producerCpuUsPerTask - http.floorCpuUsPerRequest;
        const { problems: libraryProblems, ...libraryDetail } = library;
        const { load, ...httpDetail } = http;
        const { problems: httpProblems, ...loadDetail } = load;
        sample.detail = { tasks, inFlight, warmup, http: { ...httpDetail, ...loadDetail }, library: libraryDetail };
        sample.problems = [...libraryProblems, ...httpProblems.map((p) => `HTTP: ${p}`)];
        return sample;
      } catch (error) {
        // The gateway process may be what failed: the next run starts a fresh one.
        await harness.resetGateway();
        throw error;
      }
    },
  };
}

export const httpScenario: Scenario = {
  name: 'http',
  title: 'HTTP gateway: POST /v1/queues/:queue/tasks against the library’s enqueue',
  perSystem: true,
  only: 'errand',
  sideBySide: ['HTTP gateway', 'library'],
  cases: (settings) => [httpCase(settings)],
};
