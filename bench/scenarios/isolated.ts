/**
 * Scenario 8, isolated processing: like end-to-end processing (tasks pre-loaded, one worker
 * process, a no-op handler, timed from just before the worker is constructed to the
 * library's completion event for the last task), with the handler in a pool of worker
 * threads or child processes: Errand's `isolation: 'thread' | 'process'` and BullMQ's
 * sandboxed processors (`useWorkerThreads`, or its default child processes), each loading
 * a plain JavaScript handler file. Starting the pool's threads or processes is part of the
 * time, for both. Bee-Queue has no sandbox and is left out. Checks as everywhere: every
 * task run once and completed, none left.
 */
import { redisWork } from '../harness.js';
import type { BenchSettings } from '../settings.js';
import type { Isolation } from '../systems/types.js';
import { checkCounts, checkWorker, enqueueInBatches } from './common.js';
import { emptySample, requireSystem, type Scenario, type ScenarioCase } from './types.js';

const CONCURRENCIES = [10, 100];
/** Generous: starting 100 processes on two cores takes seconds; then well over 100 tasks/s. */
const MIN_TASKS_PER_S = 100;
const STARTUP_ALLOWANCE_MS = 60_000;

function isolatedCase(settings: BenchSettings, isolation: Isolation, concurrency: number): ScenarioCase {
  const { tasks, bulkBatch } = settings;
  const id = `isolated.${isolation}.c${concurrency}`;
  const label = `${isolation === 'thread' ? 'worker threads' : 'child processes'}, concurrency ${concurrency}`;
  return {
    id,
    label,
    metrics: [{ key: id, label, unit: 'tasks/s', better: 'higher', digits: 0 }],
    async run(harness, maybeSystem) {
      const system = requireSystem(maybeSystem);
      const queue = harness.queueName(`${isolation}-c${concurrency}`);
      const producer = await system.openProducer({ redis: harness.redis, queue, awaitResults: false });
      const worker = await harness.worker(system.name);
      try {
        await enqueueInBatches(producer, tasks, bulkBatch);
        const before = await harness.redisStats();
        await worker.start({ redis: harness.redis, queue, concurrency, isolation, removeCompleted: false, recordStarts: false, expect: tasks });
        const { elapsedMs: ms, firstStartMs } = await worker.waitDone(STARTUP_ALLOWANCE_MS + (tasks / MIN_TASKS_PER_S) * 1000);
        const after = await harness.redisStats();
        const report = await worker.stop();
        const sample = emptySample();
        sample.metrics[id] = (tasks / ms) * 1000;
        sample.detail = { tasks, concurrency, isolation, ms, firstStartMs, workerCpuUsPerTask: report.cpuUs / tasks, redis: redisWork(before, after, tasks) };
        sample.problems = [...checkWorker(report, tasks), ...checkCounts(await producer.counts(), { waiting: 0, active: 0, failed: 0 })];
        return sample;
      } finally {
        await producer.close();
      }
    },
  };
}

export const isolatedScenario: Scenario = {
  name: 'isolated',
  title: 'Isolated processing (handlers in worker threads or child processes, tasks pre-loaded)',
  perSystem: true,
  among: ['errand', 'bullmq'],
  cases: (settings) => (['thread', 'process'] as const).flatMap((isolation) => CONCURRENCIES.map((concurrency) => isolatedCase(settings, isolation, concurrency))),
};
