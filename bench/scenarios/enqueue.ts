/**
 * Scenario 1, enqueue throughput with no worker running:
 * - one at a time, with a fixed number of enqueue calls in flight (each lane awaits its
 *   call before sending the next);
 * - bulk, with each library's batch call (Errand enqueueMany, BullMQ addBulk, Bee-Queue
 *   saveAll), batches sent one after another.
 * Timing starts once the producer's connection is ready and ends when the last call
 * resolved; the run then checks that every task is waiting. The JSON keeps Redis's CPU per
 * task and its command statistics for the timed part.
 */
import { elapsedMs, nowUs } from '../clock.js';
import { redisWork } from '../harness.js';
import type { BenchSettings } from '../settings.js';
import type { Producer } from '../systems/types.js';
import { checkCounts, enqueueInBatches, payload } from './common.js';
import { emptySample, requireSystem, type Scenario, type ScenarioCase } from './types.js';

function enqueueCase(
  id: string,
  label: string,
  tasks: number,
  send: (producer: Producer) => Promise<void>,
): ScenarioCase {
  return {
    id,
    label,
    metrics: [{ key: id, label, unit: 'tasks/s', better: 'higher', digits: 0 }],
    async run(harness, maybeSystem) {
      const system = requireSystem(maybeSystem);
      const producer = await system.openProducer({ redis: harness.redis, queue: harness.queueName(id), awaitResults: false });
      try {
        const before = await harness.redisStats();
        const startUs = nowUs();
        await send(producer);
        const ms = elapsedMs(startUs);
        const after = await harness.redisStats();
        const sample = emptySample();
        sample.metrics[id] = (tasks / ms) * 1000;
        sample.detail = { tasks, ms, redis: redisWork(before, after, tasks) };
        sample.problems = checkCounts(await producer.counts(), { waiting: tasks, active: 0, completed: 0, failed: 0 });
        return sample;
      } finally {
        await producer.close();
      }
    },
  };
}

async function oneAtATime(producer: Producer, tasks: number, inFlight: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < tasks) await producer.enqueueOne(payload(next++));
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, tasks) }, lane));
}

export const enqueueScenario: Scenario = {
  name: 'enqueue',
  title: 'Enqueue throughput (no worker)',
  perSystem: true,
  cases(settings: BenchSettings) {
    const { tasks, inFlight, bulkBatch } = settings;
    return [
      enqueueCase('enqueue.one', `enqueue one at a time, ${inFlight} in flight`, tasks, (producer) =>
        oneAtATime(producer, tasks, inFlight),
      ),
      enqueueCase('enqueue.bulk', `bulk enqueue, batches of ${bulkBatch.toLocaleString('en-US')}`, tasks, (producer) =>
        enqueueInBatches(producer, tasks, bulkBatch),
      ),
    ];
  },
};
