/**
 * Scenario 8, flow control (issue 14), in three cases:
 * - groups (Errand only): the processing run of scenario 2 at concurrency 100, once plain
 *   and once with the same tasks spread over 1,000 groups (round robin); the grouped rate
 *   as a share of the plain one;
 * - fairness (Errand only): a heavy tenant's backlog of `tasks` tasks waits in one group,
 *   the worker starts, and a light tenant's 100 tasks go out one by one while the backlog
 *   drains; their enqueue → start. The same load with no groups (one FIFO line) is measured
 *   beside it, to show what the rotation buys;
 * - the rate limit, Errand against BullMQ (flow-rate.ts).
 * Bee-Queue has neither groups nor a rate limiter, and BullMQ's groups are in its paid Pro
 * edition: those cases leave them out. The two sides of a case swap order every run.
 */
import { nowUs } from '../clock.js';
import type { Harness } from '../harness.js';
import type { BenchSettings } from '../settings.js';
import { summarizeLatencyUs } from '../stats.js';
import type { BenchSystem, Producer } from '../systems/types.js';
import { checkCounts, checkWorker, enqueueInBatches, payload } from './common.js';
import { rateCase } from './flow-rate.js';
import { processPreloaded } from './processing.js';
import { emptySample, requireSystem, type Scenario, type ScenarioCase } from './types.js';

/** Generous: a backlog drains far faster than this. */
const MIN_TASKS_PER_S = 200;
/** How long the light tenant's sends may trail their schedule before the run gives up. */
const SEND_TIMEOUT_MS = 30_000;

/** Alternates which side of a case runs first, run after run. */
function alternating(): () => boolean {
  let runs = 0;
  return () => runs++ % 2 === 0;
}

function groupsCase(settings: BenchSettings): ScenarioCase {
  const { tasks, bulkBatch } = settings;
  const { concurrency, groups } = settings.flow;
  const n = groups.toLocaleString('en-US');
  const plainFirst = alternating();
  return {
    id: 'flow.groups',
    label: `processing plain and over ${n} groups, concurrency ${concurrency}`,
    systems: ['errand'],
    metrics: [
      { key: 'flow.plain', label: `processing, concurrency ${concurrency}, no groups`, unit: 'tasks/s', better: 'higher', digits: 0 },
      { key: 'flow.grouped', label: `processing, concurrency ${concurrency}, over ${n} groups`, unit: 'tasks/s', better: 'higher', digits: 0 },
      { key: 'flow.groups.ratio', label: `over ${n} groups / no groups`, unit: '×', better: 'higher', digits: 2 },
    ],
    async run(harness, maybeSystem) {
      const system = requireSystem(maybeSystem);
      const plain = () => processPreloaded(harness, system, { tasks, concurrency, bulkBatch, tag: 'flow-plain' });
      const grouped = () =>
        processPreloaded(harness, system, { tasks, concurrency, bulkBatch, tag: 'flow-grouped', groupOf: ({ i }) => `g${i % groups}` });
      const order = plainFirst() ? ['plain', 'grouped'] : ['grouped', 'plain'];
      const sides: Record<string, Awaited<ReturnType<typeof plain>>> = {};
      for (const side of order) sides[side] = await (side === 'plain' ? plain() : grouped());
      const sample = emptySample();
      sample.metrics['flow.plain'] = sides.plain!.rate;
      sample.metrics['flow.grouped'] = sides.grouped!.rate;
      sample.metrics['flow.groups.ratio'] = sides.grouped!.rate / sides.plain!.rate;
      sample.detail = { groups, order, plain: sides.plain!.detail, grouped: sides.grouped!.detail };
      sample.problems = [...sides.plain!.problems.map((p) => `plain: ${p}`), ...sides.grouped!.problems.map((p) => `grouped: ${p}`)];
      return sample;
    },
  };
}

/** Sends `count` tasks evenly over `spanMs` (a 1 ms timer sends those due), each awaited apart. */
async function sendSpread(producer: Producer, count: number, spanMs: number, firstIndex: number, group: string | undefined) {
  const sends: Promise<void>[] = [];
  const failures: string[] = [];
  const startUs = nowUs();
  let sent = 0;
  let maxLagMs = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsedMs = (nowUs() - startUs) / 1000;
      const due = Math.min(count, Math.floor((elapsedMs * count) / spanMs) + 1);
      while (sent < due) {
        maxLagMs = Math.max(maxLagMs, elapsedMs - (sent * spanMs) / count);
        sends.push(producer.enqueueOne(payload(firstIndex + sent++), group).catch((error: unknown) => void failures.push(String(error))));
      }
      if (sent >= count || elapsedMs > SEND_TIMEOUT_MS) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(sends);
  if (sent < count) failures.push(`only ${sent} of ${count} light tasks were sent within ${SEND_TIMEOUT_MS} ms`);
  return { spanMs: (nowUs() - startUs) / 1000, maxLagMs, failures };
}

/** One side of the fairness case: grouped (tenants in their groups) or one FIFO line. */
async function fairnessSide(harness: Harness, system: BenchSystem, settings: BenchSettings, grouped: boolean) {
  const { heavyTasks, lightTasks, lightSpanMs, concurrency } = settings.flow;
  const total = heavyTasks + lightTasks;
  const queue = harness.queueName(grouped ? 'flow-fair' : 'flow-fifo');
  const producer = await system.openProducer({ redis: harness.redis, queue, awaitResults: false });
  const worker = await harness.worker(system.name);
  try {
    // The heavy tenant's start latencies are not recorded: only the light tenant's are.
    await enqueueInBatches(producer, heavyTasks, settings.bulkBatch, { unrecorded: true, ...(grouped ? { groupOf: () => 'heavy' } : {}) });
    await worker.start({ redis: harness.redis, queue, concurrency, removeCompleted: false, recordStarts: true, recordStartTimes: true, expect: total });
    const light = await sendSpread(producer, lightTasks, lightSpanMs, heavyTasks, grouped ? 'light' : undefined);
    const { elapsedMs } = await worker.waitDone(10_000 + (total / MIN_TASKS_PER_S) * 1000);
    const report = await worker.stop();
    const latency = summarizeLatencyUs(report.startLatenciesUs);
    // Heavy tasks that started after the light tenant's last one: the backlog still waited.
    const heavyAfterLight = report.startTimesUs.filter((t) => t > report.lastRecordedStartUs).length;
    const problems = [...checkWorker(report, total), ...checkCounts(await producer.counts(), { waiting: 0, active: 0, failed: 0 })];
    problems.push(...light.failures.slice(0, 5).map((message) => `light enqueue: ${message}`));
    if (latency.count !== lightTasks) problems.push(`${latency.count} light start latencies for ${lightTasks} light tasks`);
    if (grouped && heavyAfterLight === 0) {
      problems.push('the heavy backlog drained before the light tenant\'s last task started: not a measure of fairness (raise --tasks)');
    }
    const detail = { heavyTasks, lightTasks, drainMs: elapsedMs, lightSpanMs: light.spanMs, lightMaxLagMs: light.maxLagMs, heavyAfterLastLight: heavyAfterLight, latency };
    return { latency, detail, problems };
  } finally {
    await producer.close();
  }
}

function fairnessCase(settings: BenchSettings): ScenarioCase {
  const { heavyTasks, lightTasks } = settings.flow;
  const heavy = heavyTasks.toLocaleString('en-US');
  const what = `light tenant's ${lightTasks} tasks, enqueue → start`;
  const groupedFirst = alternating();
  return {
    id: 'flow.fair',
    label: `fairness: ${lightTasks} light tasks behind ${heavy} heavy`,
    systems: ['errand'],
    metrics: [
      { key: 'flow.fair.p50', label: `${what} p50, ${heavy} heavy waiting`, unit: 'ms', better: 'lower', digits: 2 },
      { key: 'flow.fair.p99', label: `${what} p99, ${heavy} heavy waiting`, unit: 'ms', better: 'lower', digits: 2 },
      { key: 'flow.fair.max', label: `${what} max, ${heavy} heavy waiting`, unit: 'ms', better: 'lower', digits: 2 },
      { key: 'flow.fifo.p99', label: `the same p99 without groups (one FIFO line)`, unit: 'ms', better: 'lower', digits: 2 },
    ],
    async run(harness, maybeSystem) {
      const system = requireSystem(maybeSystem);
      const sides = groupedFirst() ? [true, false] : [false, true];
      const results = new Map<boolean, Awaited<ReturnType<typeof fairnessSide>>>();
      for (const grouped of sides) results.set(grouped, await fairnessSide(harness, system, settings, grouped));
      const fair = results.get(true)!;
      const fifo = results.get(false)!;
      const sample = emptySample();
      sample.metrics['flow.fair.p50'] = fair.latency.p50;
      sample.metrics['flow.fair.p99'] = fair.latency.p99;
      sample.metrics['flow.fair.max'] = fair.latency.max;
      sample.metrics['flow.fifo.p99'] = fifo.latency.p99;
      sample.detail = { groupedFirst: sides[0], grouped: fair.detail, fifo: fifo.detail };
      sample.problems = [...fair.problems.map((p) => `grouped: ${p}`), ...fifo.problems.map((p) => `one line: ${p}`)];
      return sample;
    },
  };
}

export const flowScenario: Scenario = {
  name: 'flow',
  title: 'Flow control: groups, fairness, rate limit',
  perSystem: true,
  note:
    'Groups and fairness: Errand only (Bee-Queue has no groups; BullMQ has them in its paid Pro edition). ' +
    'Rate limit: Errand against BullMQ (Worker limiter); Bee-Queue has no rate limiter and is left out.',
  cases: (settings) => [groupsCase(settings), fairnessCase(settings), rateCase(settings)],
};
