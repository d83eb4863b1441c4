/**
 * Scenario 2, end-to-end processing: tasks are pre-loaded (bulk, untimed), then one worker
 * process runs the library's worker at a given concurrency with a no-op handler. The time
 * runs inside the worker process, from just before the worker is constructed to the
 * library's own completion event for the last task (Errand and BullMQ worker 'completed',
 * Bee-Queue queue 'succeeded': each fires once the outcome is written to Redis). No Redis
 * polling is involved. The run then checks the queue is drained and nothing ran twice.
 * The JSON keeps what Redis did meanwhile (its CPU per task, calls and time per command),
 * to tell whether Redis or the worker process bounds a system.
 *
 * `processPreloaded` is that run, shared with the flow scenario (the same load spread over
 * groups).
 */
import type { Harness } from '../harness.js';
import { redisWork } from '../harness.js';
import type { BenchSettings } from '../settings.js';
import type { BenchPayload, BenchSystem } from '../systems/types.js';
import { checkCounts, checkWorker, enqueueInBatches } from './common.js';
import { emptySample, requireSystem, type Scenario, type ScenarioCase } from './types.js';

/** Generous: the slowest system at concurrency 1 does well over 200 tasks/s. */
const MIN_TASKS_PER_S = 200;

export interface PreloadedRun {
  tasks: number;
  concurrency: number;
  bulkBatch: number;
  /** Part of the queue's name. */
  tag: string;
  /** Each task's group (Errand only). */
  groupOf?: (payload: BenchPayload) => string;
  /** Runs on the queue (its name) before anything is enqueued: e.g. Errand's partitions. */
  prepare?: (queue: string) => Promise<void>;
}

export interface Processed {
  /** Tasks per second, from worker construction to the last completion. */
  rate: number;
  detail: Record<string, unknown>;
  problems: string[];
}

/** Pre-loads `tasks` tasks, then times one worker process through all of them. */
export async function processPreloaded(harness: Harness, system: BenchSystem, run: PreloadedRun): Promise<Processed> {
  const { tasks, concurrency, bulkBatch, groupOf } = run;
  const queue = harness.queueName(run.tag);
  const producer = await system.openProducer({ redis: harness.redis, queue, awaitResults: false });
  const worker = await harness.worker(system.name);
  try {
    await run.prepare?.(queue);
    await enqueueInBatches(producer, tasks, bulkBatch, groupOf ? { groupOf } : {});
    const before = await harness.redisStats();
    await worker.start({ redis: harness.redis, queue, concurrency, removeCompleted: false, recordStarts: false, expect: tasks });
    const { elapsedMs: ms, firstStartMs } = await worker.waitDone(10_000 + (tasks / MIN_TASKS_PER_S) * 1000);
    const after = await harness.redisStats();
    const report = await worker.stop();
    return {
      rate: (tasks / ms) * 1000,
      // The worker process's CPU covers its whole run (connecting, claiming, closing), like the time does.
      detail: { tasks, concurrency, ms, firstStartMs, workerCpuUsPerTask: report.cpuUs / tasks, redis: redisWork(before, after, tasks) },
      problems: [...checkWorker(report, tasks), ...checkCounts(await producer.counts(), { waiting: 0, active: 0, failed: 0 })],
    };
  } finally {
    await producer.close();
  }
}

function processingCase(settings: BenchSettings, concurrency: number): ScenarioCase {
  const { tasks, bulkBatch } = settings;
  const id = `process.c${concurrency}`;
  const label = `processing, concurrency ${concurrency}`;
  return {
    id,
    label,
    metrics: [{ key: id, label, unit: 'tasks/s', better: 'higher', digits: 0 }],
    async run(harness, maybeSystem) {
      const system = requireSystem(maybeSystem);
      const { rate, detail, problems } = await processPreloaded(harness, system, { tasks, concurrency, bulkBatch, tag: `c${concurrency}` });
      const sample = emptySample();
      sample.metrics[id] = rate;
      sample.detail = detail;
      sample.problems = problems;
      return sample;
    },
  };
}

export const processingScenario: Scenario = {
  name: 'processing',
  title: 'End-to-end processing (one worker process, tasks pre-loaded)',
  perSystem: true,
  cases: (settings) => settings.concurrencies.map((concurrency) => processingCase(settings, concurrency)),
};
