/**
 * Scenario 3, latency at a steady rate with an idle worker waiting (one worker process).
 *
 * The producer sends on a timer schedule: every ~1 ms it sends the tasks whose ideal send
 * time (start + k / rate) has passed, so tasks go out at the rate, at most a couple per
 * tick, never in bursts (the schedule lag is recorded). Each payload carries its enqueue
 * timestamp, taken just before the library call, on the machine's monotonic clock:
 * - enqueue → start: the handler's start in the worker process, minus the timestamp;
 * - enqueue → completion seen by the producer: when the library's result mechanism tells
 *   the producer (Errand task.result(), BullMQ job.waitUntilFinished with QueueEvents,
 *   Bee-Queue job 'succeeded'), minus the timestamp.
 * A warm-up at the same rate precedes the measured window and is not recorded.
 */
import { nowUs } from '../clock.js';
import { redisWork } from '../harness.js';
import type { BenchSettings } from '../settings.js';
import { summarizeLatencyUs } from '../stats.js';
import type { Producer } from '../systems/types.js';
import { checkWorker, payload } from './common.js';
import { emptySample, requireSystem, type MetricDef, type Scenario, type ScenarioCase } from './types.js';

/** How long the results of a window may trail its last send before the run gives up. */
const DRAIN_TIMEOUT_MS = 30_000;
const PERCENTILES = ['p50', 'p95', 'p99', 'max'] as const;

interface Window {
  sent: number;
  /** Completion latencies seen by the producer, µs. */
  doneUs: number[];
  failures: string[];
  /** Send span, ms, and the worst lateness of a send against its ideal time, ms. */
  spanMs: number;
  maxLagMs: number;
}

/** Sends `rate` tasks/s for `durationMs` and waits (bounded) for all their results. */
async function paced(producer: Producer, rate: number, durationMs: number, firstIndex: number, warmup: boolean): Promise<Window> {
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const window: Window = { sent: 0, doneUs: [], failures: [], spanMs: 0, maxLagMs: 0 };
  const results: Promise<void>[] = [];
  const startUs = nowUs();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = nowUs();
      const due = Math.min(total, Math.floor(((now - startUs) * rate) / 1e6) + 1);
      while (window.sent < due) {
        const idealUs = startUs + (window.sent * 1e6) / rate;
        window.maxLagMs = Math.max(window.maxLagMs, (nowUs() - idealUs) / 1000);
        const task = payload(firstIndex + window.sent++, warmup);
        results.push(
          producer.enqueueAndWait(task).then(
            () => void window.doneUs.push(nowUs() - task.t),
            (error: unknown) => void window.failures.push(error instanceof Error ? error.message : String(error)),
          ),
        );
      }
      if (window.sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  window.spanMs = (nowUs() - startUs) / 1000;
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    Promise.all(results).then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), DRAIN_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  if (!drained) window.failures.push(`only ${window.doneUs.length} of ${total} results arrived within ${DRAIN_TIMEOUT_MS} ms`);
  return window;
}

function metricDefs(rate: number): MetricDef[] {
  const defs: MetricDef[] = [];
  for (const [kind, what] of [['start', 'enqueue → start'], ['done', 'enqueue → completion seen']] as const) {
    for (const p of PERCENTILES) {
      defs.push({ key: `latency.${rate}.${kind}.${p}`, label: `${what} ${p} @ ${rate}/s`, unit: 'ms', better: 'lower', digits: 2 });
    }
  }
  return defs;
}

function latencyCase(settings: BenchSettings, rate: number): ScenarioCase {
  const { durationMs, warmupMs, concurrency } = settings.latency;
  const id = `latency.${rate}`;
  return {
    id,
    label: `latency at ${rate} tasks/s`,
    metrics: metricDefs(rate),
    async run(harness, maybeSystem) {
      const system = requireSystem(maybeSystem);
      const queue = harness.queueName(`lat${rate}`);
      const producer = await system.openProducer({ redis: harness.redis, queue, awaitResults: true });
      const worker = await harness.worker(system.name);
      try {
        await worker.start({ redis: harness.redis, queue, concurrency, removeCompleted: false, recordStarts: true });
        const warm = await paced(producer, rate, warmupMs, 0, true);
        // CPU per task of each party, over the measured window (the worker's over the whole run).
        const redisBefore = await harness.redisStats();
        const producerCpuBefore = process.cpuUsage();
        const measured = await paced(producer, rate, durationMs, warm.sent, false);
        const producerCpu = process.cpuUsage(producerCpuBefore);
        const redis = redisWork(redisBefore, await harness.redisStats(), measured.sent);
        const report = await worker.stop();
        const sample = emptySample();
        const start = summarizeLatencyUs(report.startLatenciesUs);
        const done = summarizeLatencyUs(measured.doneUs);
        for (const p of PERCENTILES) {
          sample.metrics[`${id}.start.${p}`] = start[p];
          sample.metrics[`${id}.done.${p}`] = done[p];
        }
        sample.detail = {
          rate,
          concurrency,
          sent: measured.sent,
          achievedRate: (measured.sent / measured.spanMs) * 1000,
          maxScheduleLagMs: measured.maxLagMs,
          startSamples: start.count,
          doneSamples: done.count,
          producerCpuUsPerTask: (producerCpu.user + producerCpu.system) / measured.sent,
          workerCpuUsPerTask: report.cpuUs / (warm.sent + measured.sent),
          redis,
        };
        sample.problems = [
          ...checkWorker(report, warm.sent + measured.sent),
          ...[...warm.failures, ...measured.failures].slice(0, 5).map((message) => `result: ${message}`),
        ];
        if (start.count !== measured.sent) sample.problems.push(`${start.count} start latencies for ${measured.sent} tasks`);
        return sample;
      } finally {
        await producer.close();
      }
    },
  };
}

export const latencyScenario: Scenario = {
  name: 'latency',
  title: 'Latency at a steady rate (idle worker waiting)',
  perSystem: true,
  cases: (settings) => settings.latency.rates.map((rate) => latencyCase(settings, rate)),
};
