/**
 * Scenario 7, the cost of Errand's opt-in durability (Errand only: the peers have no such
 * option). The bench's Redis gets one replica (started for this scenario, which runs last,
 * since replication costs the primary a little from then on), and each run does the same
 * work twice, with `durability: { replicas: 1 }` and without:
 * - enqueue: `tasks` single enqueues over `inFlight` lanes, each awaiting its answer (with
 *   durability, each answer waits for Redis WAIT); the rate, and the latency per call;
 * - processing: `tasks` pre-loaded tasks through one worker process at concurrency 100
 *   (with durability, each batch of completions waits for WAIT).
 * Checks as everywhere: every task enqueued, run once, completed.
 */
import { nowUs } from '../clock.js';
import type { Harness } from '../harness.js';
import type { BenchSettings } from '../settings.js';
import { summarizeLatencyUs } from '../stats.js';
import type { BenchSystem, DurabilitySetting } from '../systems/types.js';
import { checkCounts, checkWorker, enqueueInBatches, payload } from './common.js';
import { emptySample, requireSystem, type MetricDef, type Scenario, type ScenarioCase } from './types.js';

const DURABLE: DurabilitySetting = { replicas: 1, timeoutMs: 1_000 };
const CONCURRENCY = 100;
/** Generous: even with a WAIT per batch this does well over 200 tasks/s. */
const MIN_TASKS_PER_S = 200;

async function enqueueSide(harness: Harness, system: BenchSystem, tasks: number, inFlight: number, durability: DurabilitySetting | undefined) {
  const producer = await system.openProducer({ redis: harness.redis, queue: harness.queueName('durable-enq'), awaitResults: false, ...(durability ? { durability } : {}) });
  try {
    const latenciesUs: number[] = [];
    let next = 0;
    const startUs = nowUs();
    await Promise.all(
      Array.from({ length: Math.min(inFlight, tasks) }, async () => {
        while (next < tasks) {
          const task = payload(next++);
          await producer.enqueueOne(task);
          latenciesUs.push(nowUs() - task.t);
        }
      }),
    );
    const ms = (nowUs() - startUs) / 1000;
    const problems = checkCounts(await producer.counts(), { waiting: tasks, active: 0, failed: 0 });
    return { rate: (tasks / ms) * 1000, latency: summarizeLatencyUs(latenciesUs), problems };
  } finally {
    await producer.close();
  }
}

async function processSide(harness: Harness, system: BenchSystem, tasks: number, bulkBatch: number, durability: DurabilitySetting | undefined) {
  const queue = harness.queueName('durable-proc');
  const producer = await system.openProducer({ redis: harness.redis, queue, awaitResults: false });
  const worker = await harness.worker(system.name);
  try {
    await enqueueInBatches(producer, tasks, bulkBatch);
    await worker.start({ redis: harness.redis, queue, concurrency: CONCURRENCY, removeCompleted: false, recordStarts: false, expect: tasks, ...(durability ? { durability } : {}) });
    const { elapsedMs } = await worker.waitDone(10_000 + (tasks / MIN_TASKS_PER_S) * 1000);
    const report = await worker.stop();
    const problems = [...checkWorker(report, tasks), ...checkCounts(await producer.counts(), { waiting: 0, active: 0, failed: 0 })];
    return { rate: (tasks / elapsedMs) * 1000, problems };
  } finally {
    await producer.close();
  }
}

function metricDefs(inFlight: number): MetricDef[] {
  const defs: MetricDef[] = [];
  const pair = (key: string, label: string, unit: string, better: MetricDef['better'], digits: number) => {
    defs.push({ key: `durable.${key}`, label, unit, better, digits, versus: `durable.plain.${key}` });
    defs.push({ key: `durable.plain.${key}`, label: `without durability: ${label}`, unit, better, digits });
  };
  pair('enqueue', `single enqueues, ${inFlight} in flight`, 'tasks/s', 'higher', 0);
  pair('p50', 'enqueue latency p50', 'ms', 'lower', 2);
  pair('p99', 'enqueue latency p99', 'ms', 'lower', 2);
  pair('process', `processing, concurrency ${CONCURRENCY}`, 'tasks/s', 'higher', 0);
  return defs;
}

function durabilityCase(settings: BenchSettings): ScenarioCase {
  const { tasks, inFlight, bulkBatch } = settings;
  return {
    id: 'durable',
    label: `durability: { replicas: 1 } against none, one replica`,
    metrics: metricDefs(inFlight),
    async run(harness, maybeSystem) {
      const system = requireSystem(maybeSystem);
      if (system.name !== 'errand') throw new Error('the durability scenario measures Errand only');
      await harness.replica();
      const sample = emptySample();
      for (const [prefix, durability] of [['durable', DURABLE], ['durable.plain', undefined]] as const) {
        const enqueue = await enqueueSide(harness, system, tasks, inFlight, durability);
        const processing = await processSide(harness, system, tasks, bulkBatch, durability);
        sample.metrics[`${prefix}.enqueue`] = enqueue.rate;
        sample.metrics[`${prefix}.p50`] = enqueue.latency.p50;
        sample.metrics[`${prefix}.p99`] = enqueue.latency.p99;
        sample.metrics[`${prefix}.process`] = processing.rate;
        sample.problems.push(...[...enqueue.problems, ...processing.problems].map((p) => `${durability ? 'durable' : 'plain'}: ${p}`));
      }
      sample.detail = { tasks, inFlight, concurrency: CONCURRENCY, durability: DURABLE };
      return sample;
    },
  };
}

export const durabilityScenario: Scenario = {
  name: 'durability',
  title: 'Durability: writes that wait for a replica (Redis WAIT) against plain writes',
  perSystem: true,
  only: 'errand',
  sideBySide: ['with durability', 'without'],
  cases: (settings) => [durabilityCase(settings)],
};
