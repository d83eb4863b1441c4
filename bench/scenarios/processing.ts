/**
 * Scenario 2, end-to-end processing: tasks are pre-loaded (bulk, untimed), then one worker
 * process runs the library's worker at a given concurrency with a no-op handler. The time
 * runs inside the worker process, from just before the worker is constructed to the
 * library's own completion event for the last task (Errand and BullMQ worker 'completed',
 * Bee-Queue queue 'succeeded': each fires once the outcome is written to Redis). No Redis
 * polling is involved. The run then checks the queue is drained and nothing ran twice.
 * The JSON keeps what Redis did meanwhile (its CPU per task, calls and time per command),
 * to tell whether Redis or the worker process bounds a system.
 */
import { redisWork } from '../harness.js';
import type { BenchSettings } from '../settings.js';
import { checkCounts, checkWorker, enqueueInBatches } from './common.js';
import { emptySample, requireSystem, type Scenario, type ScenarioCase } from './types.js';

/** Generous: the slowest system at concurrency 1 does well over 200 tasks/s. */
const MIN_TASKS_PER_S = 200;

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
      const queue = harness.queueName(`c${concurrency}`);
      const producer = await system.openProducer({ redis: harness.redis, queue, awaitResults: false });
      const worker = await harness.worker(system.name);
      try {
        await enqueueInBatches(producer, tasks, bulkBatch);
        const before = await harness.redisStats();
        await worker.start({ redis: harness.redis, queue, concurrency, removeCompleted: false, recordStarts: false, expect: tasks });
        const { elapsedMs: ms, firstStartMs } = await worker.waitDone(10_000 + (tasks / MIN_TASKS_PER_S) * 1000);
        const after = await harness.redisStats();
        const report = await worker.stop();
        const sample = emptySample();
        sample.metrics[id] = (tasks / ms) * 1000;
        // The worker process's CPU covers its whole run (connecting, claiming, closing), like the time does.
        sample.detail = { tasks, concurrency, ms, firstStartMs, workerCpuUsPerTask: report.cpuUs / tasks, redis: redisWork(before, after, tasks) };
        sample.problems = [...checkWorker(report, tasks), ...checkCounts(await producer.counts(), { waiting: 0, active: 0, failed: 0 })];
        return sample;
      } finally {
        await producer.close();
      }
    },
  };
}

export const processingScenario: Scenario = {
  name: 'processing',
  title: 'End-to-end processing (one worker process, tasks pre-loaded)',
  perSystem: true,
  cases: (settings) => settings.concurrencies.map((concurrency) => processingCase(settings, concurrency)),
};
