/**
 * Scenario 10 (docs/performance.md), the cost of partitions on one Redis (Errand only: the peers pin a queue to
 * one slot). The same processing run as scenario 2 (tasks pre-loaded, one worker process)
 * on an unpartitioned queue and on one configured with `partitions` (4 by default), at
 * concurrency 10 and 100, in alternating order; the ratio is what partitioning costs where
 * it cannot help (one Redis core). On a cluster each partition's share runs on its own
 * master: docs/performance.md projects that from the per-shard CPU measured by
 * test/partitions-cluster.test.ts.
 */
import { Queue } from '../../src/index.js';
import type { BenchSettings } from '../settings.js';
import { processPreloaded } from './processing.js';
import { emptySample, requireSystem, type Scenario, type ScenarioCase } from './types.js';

const PARTITIONS = 4;

function partitionsCase(settings: BenchSettings, concurrency: number): ScenarioCase {
  const { tasks, bulkBatch } = settings;
  const id = `partitions.c${concurrency}`;
  let runs = 0;
  return {
    id,
    label: `processing, concurrency ${concurrency}: ${PARTITIONS} partitions against one`,
    systems: ['errand'],
    metrics: [
      { key: `${id}.plain`, label: `processing, concurrency ${concurrency}, one partition`, unit: 'tasks/s', better: 'higher', digits: 0 },
      { key: `${id}.partitioned`, label: `processing, concurrency ${concurrency}, ${PARTITIONS} partitions`, unit: 'tasks/s', better: 'higher', digits: 0 },
      { key: `${id}.ratio`, label: `${PARTITIONS} partitions / one (one Redis)`, unit: '×', better: 'higher', digits: 2 },
    ],
    async run(harness, maybeSystem) {
      const system = requireSystem(maybeSystem);
      if (system.name !== 'errand') throw new Error('the partitions scenario measures Errand only');
      const partition = async (queue: string) => {
        const handle = new Queue(queue, { connection: harness.redis.url });
        await handle.configure({ partitions: PARTITIONS }).finally(() => handle.close());
      };
      const sides = runs++ % 2 === 0 ? [false, true] : [true, false];
      const results = new Map<boolean, Awaited<ReturnType<typeof processPreloaded>>>();
      for (const partitioned of sides) {
        results.set(partitioned, await processPreloaded(harness, system, { tasks, concurrency, bulkBatch, tag: `part${partitioned ? PARTITIONS : 1}-c${concurrency}`, ...(partitioned ? { prepare: partition } : {}) }));
      }
      const plain = results.get(false)!;
      const partitioned = results.get(true)!;
      const sample = emptySample();
      sample.metrics[`${id}.plain`] = plain.rate;
      sample.metrics[`${id}.partitioned`] = partitioned.rate;
      sample.metrics[`${id}.ratio`] = partitioned.rate / plain.rate;
      sample.detail = { partitions: PARTITIONS, partitionedFirst: sides[0], plain: plain.detail, partitioned: partitioned.detail };
      sample.problems = [...plain.problems.map((p) => `one partition: ${p}`), ...partitioned.problems.map((p) => `partitioned: ${p}`)];
      return sample;
    },
  };
}

export const partitionsScenario: Scenario = {
  name: 'partitions',
  title: `Partitions on one Redis: ${PARTITIONS} partitions against an unpartitioned queue`,
  perSystem: true,
  only: 'errand',
  cases: (settings) => [10, 100].map((concurrency) => partitionsCase(settings, concurrency)),
};
