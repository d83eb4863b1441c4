/**
 * The flow scenario's rate-limit case: Errand's queue rate limit against BullMQ's global
 * limiter (Worker `limiter: { max, duration }`), at the same setting (5,000 per 1,000 ms),
 * one worker process at concurrency 100, on a backlog larger than the measured window's
 * work (one window more). Bee-Queue has no limiter and is left out.
 *
 * The worker process records the time of every handler start (the machine's monotonic
 * clock). The measured window runs `rateDurationMs` from the first start; the worker is
 * stopped once the first task past the window's allowance has completed (and the window has
 * ended). Figures:
 * - tasks started per second over the window (the target: within ±2% of the limit);
 * - the most starts in any sliding window of `perMs` over the whole run (never above the
 *   limit), measured at the handlers, so delivery jitter between Redis and a handler counts;
 * - Redis CPU per task started: INFO cpu (user + sys) of the server from just before the
 *   worker starts to the end of the window, over the starts in that span.
 * Every run checks that each started task ran once and completed, and that the rest waits.
 */
import { nowUs, sleep } from '../clock.js';
import { redisWork } from '../harness.js';
import type { BenchSettings } from '../settings.js';
import { mostInWindow } from '../stats.js';
import { checkCounts, checkWorker, enqueueInBatches } from './common.js';
import { emptySample, requireSystem, type ScenarioCase } from './types.js';

export function rateCase(settings: BenchSettings): ScenarioCase {
  const { concurrency, rateLimit, rateDurationMs } = settings.flow;
  const windows = rateDurationMs / rateLimit.perMs;
  // The window's allowance plus one: its completion means the window is spent.
  const expect = Math.ceil(rateLimit.max * windows) + 1;
  const backlog = Math.ceil(rateLimit.max * (windows + 1));
  const limit = `${rateLimit.max.toLocaleString('en-US')} per ${rateLimit.perMs.toLocaleString('en-US')} ms`;
  return {
    id: 'flow.rate',
    label: `rate limit ${limit}, ${rateDurationMs / 1000} s`,
    systems: ['errand', 'bullmq'],
    metrics: [
      { key: 'flow.rate.achieved', label: `rate limit ${limit}: started per s over ${rateDurationMs / 1000} s`, unit: 'tasks/s', better: 'higher', digits: 0 },
      { key: 'flow.rate.worst', label: `rate limit ${limit}: most started in any ${rateLimit.perMs} ms`, unit: 'tasks', better: 'lower', digits: 0 },
      { key: 'flow.rate.redisCpu', label: 'rate limit: Redis CPU per task started', unit: 'µs', better: 'lower', digits: 1 },
    ],
    async run(harness, maybeSystem) {
      const system = requireSystem(maybeSystem);
      const queue = harness.queueName('flow-rate');
      const producer = await system.openProducer({ redis: harness.redis, queue, awaitResults: false });
      const worker = await harness.worker(system.name);
      try {
        await enqueueInBatches(producer, backlog, settings.bulkBatch);
        const before = await harness.redisStats();
        await worker.start({ redis: harness.redis, queue, concurrency, removeCompleted: false, recordStarts: false, recordStartTimes: true, expect, rateLimit });
        // Bounded: even at a fifth of the limit the window's allowance completes in time.
        const { firstStartUs } = await worker.waitDone(30_000 + rateDurationMs * 5);
        // A limiter that let the allowance through early: wait out the window all the same.
        const windowEndUs = firstStartUs + rateDurationMs * 1000;
        if (nowUs() < windowEndUs) await sleep((windowEndUs - nowUs()) / 1000 + 1);
        const afterUs = nowUs();
        const after = await harness.redisStats();
        const report = await worker.stop();
        const times = [...report.startTimesUs].sort((a, b) => a - b);
        const inWindow = times.filter((t) => t < windowEndUs).length;
        const startedInSpan = times.filter((t) => t <= afterUs).length;
        const perSecond = Array.from({ length: Math.ceil(windows) }, (_, k) => {
          const from = firstStartUs + k * rateLimit.perMs * 1000;
          return times.filter((t) => t >= from && t < from + rateLimit.perMs * 1000).length;
        });
        const sample = emptySample();
        sample.metrics['flow.rate.achieved'] = (inWindow / rateDurationMs) * 1000;
        sample.metrics['flow.rate.worst'] = mostInWindow(times, rateLimit.perMs * 1000);
        const redis = redisWork(before, after, startedInSpan);
        sample.metrics['flow.rate.redisCpu'] = redis.cpuUsPerTask as number;
        sample.detail = {
          rateLimit,
          concurrency,
          backlog,
          windowMs: rateDurationMs,
          startedInWindow: inWindow,
          startedInRun: report.starts,
          perWindowFromFirstStart: perSecond,
          workerCpuUsPerTask: report.cpuUs / Math.max(1, report.starts),
          redis,
        };
        sample.problems = [
          ...checkWorker(report, report.starts),
          ...checkCounts(await producer.counts(), { waiting: backlog - report.starts, active: 0, failed: 0 }),
        ];
        if (report.starts < expect) sample.problems.push(`only ${report.starts} tasks started, ${expect} expected`);
        if (times.length !== report.starts) sample.problems.push(`${times.length} start times for ${report.starts} starts`);
        return sample;
      } finally {
        await producer.close();
      }
    },
  };
}
