/**
 * Scenario 4, Redis memory of completed tasks. Each run processes the same tasks twice on
 * a flushed server, first with the library's default retention, then with completed tasks
 * removed (Errand retention { completed: { count: 0 } }, BullMQ removeOnComplete
 * { count: 0 }, Bee-Queue removeOnSuccess), stops the worker and sums MEMORY USAGE (every
 * element counted, SAMPLES 0) over all keys.
 *
 * Bytes per retained completed task = (bytes with default retention − bytes with completed
 * removed) / completed tasks the library retains by default (its own count: Errand keeps
 * the last 1,000, the peers keep all). The difference cancels what does not depend on
 * retention (id counters, BullMQ's capped event stream). `used_memory` deltas from INFO
 * (from the flushed server to the end of each pass) are kept in the JSON as a cross-check;
 * a small untimed pass first loads the scripts, whose cache survives FLUSHALL.
 */
import type { Harness } from '../harness.js';
import type { BenchSystem } from '../systems/types.js';
import { checkCounts, checkWorker, enqueueInBatches } from './common.js';
import { emptySample, requireSystem, type Scenario, type ScenarioCase } from './types.js';

const CONCURRENCY = 100;
const MIN_TASKS_PER_S = 200;
const BATCH = 1_000;
const WARMUP_TASKS = 200;

interface Footprint {
  keys: number;
  bytes: number;
  usedMemoryDelta: number;
  retained: number;
  problems: string[];
}

async function footprint(harness: Harness, system: BenchSystem, tasks: number, removeCompleted: boolean): Promise<Footprint> {
  await harness.flush();
  const baseline = await harness.usedMemory();
  const queue = harness.queueName(removeCompleted ? 'mem-removed' : 'mem-default');
  const producer = await system.openProducer({ redis: harness.redis, queue, awaitResults: false });
  const worker = await harness.worker(system.name);
  try {
    await enqueueInBatches(producer, tasks, BATCH);
    await worker.start({ redis: harness.redis, queue, concurrency: CONCURRENCY, removeCompleted, recordStarts: false, expect: tasks });
    await worker.waitDone(10_000 + (tasks / MIN_TASKS_PER_S) * 1000);
    const report = await worker.stop();
    const counts = await producer.counts();
    const problems = [...checkWorker(report, tasks), ...checkCounts(counts, { waiting: 0, active: 0, failed: 0 })];
    if (removeCompleted && counts.completed !== 0) problems.push(`${counts.completed} completed tasks kept although removal was asked`);
    await producer.close();
    const { keys, bytes } = await harness.keyBytes();
    return { keys, bytes, usedMemoryDelta: (await harness.usedMemory()) - baseline, retained: counts.completed, problems };
  } catch (error) {
    await producer.close();
    throw error;
  }
}

export const memoryScenario: Scenario = {
  name: 'memory',
  title: 'Redis memory of completed tasks',
  perSystem: true,
  cases(settings): ScenarioCase[] {
    const n = settings.tasks.toLocaleString('en-US');
    return [
      {
        id: 'memory',
        label: `memory after ${n} tasks`,
        metrics: [
          { key: 'memory.retained', label: 'bytes per retained completed task (default retention)', unit: 'B', better: 'lower', digits: 0 },
          { key: 'memory.removed', label: `data left after ${n} tasks, completed removed`, unit: 'KiB', better: 'lower', digits: 1 },
        ],
        async run(harness, maybeSystem) {
          const system = requireSystem(maybeSystem);
          // A small pass first loads the library's scripts into Redis's script cache (which
          // FLUSHALL keeps), so that one-time allocation stays out of the used_memory deltas.
          await footprint(harness, system, WARMUP_TASKS, false);
          const kept = await footprint(harness, system, settings.tasks, false);
          const removed = await footprint(harness, system, settings.tasks, true);
          const sample = emptySample();
          sample.metrics['memory.retained'] = kept.retained > 0 ? (kept.bytes - removed.bytes) / kept.retained : Number.NaN;
          sample.metrics['memory.removed'] = removed.bytes / 1024;
          sample.detail = {
            tasks: settings.tasks,
            retainedByDefault: kept.retained,
            default: { keys: kept.keys, bytes: kept.bytes, usedMemoryDelta: kept.usedMemoryDelta },
            removed: { keys: removed.keys, bytes: removed.bytes, usedMemoryDelta: removed.usedMemoryDelta },
            usedMemoryPerRetainedTask: kept.retained > 0 ? (kept.usedMemoryDelta - removed.usedMemoryDelta) / kept.retained : null,
          };
          sample.problems = [...kept.problems, ...removed.problems.map((problem) => `removed: ${problem}`)];
          if (kept.retained === 0) sample.problems.push('no completed task was retained by default');
          return sample;
        },
      },
    ];
  },
};
