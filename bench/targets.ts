/**
 * The speed targets of issue 3 (and issue 17's for isolated processing, issue 18's
 * stricter ones), the flow-control targets of issue 14 and the flows targets of issue 16,
 * checked against a run's results. They read ratios
 * Errand/peer, or bounds on Errand's own figures, as the issues state them.
 */
import type { BenchResults } from './results.js';
import { FLOW_RATE_LIMIT, LATENCY_RATES } from './settings.js';
import type { SystemName } from './systems/types.js';

interface Target {
  text: string;
  figure: string;
  /** Peer to compare with; absent for a bound on Errand's own figure. */
  peer?: Exclude<SystemName, 'errand'>;
  /** Errand/peer must be at least this (higher is better) ... */
  minRatio?: number;
  /** ... or at most this (lower is better); `strict` for "below". */
  maxRatio?: number;
  strict?: boolean;
  /** Errand's figure must be under this, in the figure's unit ... */
  below?: number;
  /** ... or at least this ... */
  atLeast?: number;
  /** ... or at most this ... */
  atMost?: number;
  /** ... or within this range, both ends included. */
  within?: readonly [number, number];
  /** A bound every run must keep (judged on the min and max of the runs), not the median. */
  everyRun?: boolean;
}

const RATE = FLOW_RATE_LIMIT.max;

export const TARGETS: Target[] = [
  { text: 'processing at concurrency 100 ≥ 3× BullMQ', figure: 'process.c100', peer: 'bullmq', minRatio: 3 },
  { text: 'processing at concurrency 100 ≥ 2× Bee-Queue', figure: 'process.c100', peer: 'beequeue', minRatio: 2 },
  { text: 'processing at concurrency 10 ≥ 2× BullMQ', figure: 'process.c10', peer: 'bullmq', minRatio: 2 },
  { text: 'bulk enqueue ≥ 2× BullMQ', figure: 'enqueue.bulk', peer: 'bullmq', minRatio: 2 },
  { text: 'isolated processing, threads at concurrency 10 ≥ 2× BullMQ (issue 17)', figure: 'isolated.thread.c10', peer: 'bullmq', minRatio: 2 },
  { text: 'isolated processing, threads at concurrency 100 ≥ 2× BullMQ (issue 17)', figure: 'isolated.thread.c100', peer: 'bullmq', minRatio: 2 },
  { text: 'isolated processing, processes at concurrency 10 ≥ 2× BullMQ (issue 17)', figure: 'isolated.process.c10', peer: 'bullmq', minRatio: 2 },
  { text: 'isolated processing, processes at concurrency 100 ≥ 2× BullMQ (issue 17)', figure: 'isolated.process.c100', peer: 'bullmq', minRatio: 2 },
  { text: 'bulk enqueue no slower than Bee-Queue', figure: 'enqueue.bulk', peer: 'beequeue', minRatio: 1 },
  { text: 'p99 enqueue → start at 2,000/s no worse than BullMQ', figure: 'latency.2000.start.p99', peer: 'bullmq', maxRatio: 1 },
  { text: 'p99 enqueue → start at 2,000/s no worse than Bee-Queue', figure: 'latency.2000.start.p99', peer: 'beequeue', maxRatio: 1 },
  { text: 'p99 enqueue → start at 2,000/s under 1 ms', figure: 'latency.2000.start.p99', below: 1 },
  { text: 'memory per retained completed task ≤ ½ BullMQ', figure: 'memory.retained', peer: 'bullmq', maxRatio: 0.5 },
  { text: 'memory per retained completed task below Bee-Queue', figure: 'memory.retained', peer: 'beequeue', maxRatio: 1, strict: true },
  { text: 'processing over 1,000 groups ≥ 0.85× plain (concurrency 100)', figure: 'flow.groups.ratio', atLeast: 0.85 },
  { text: "light tenant's p99 enqueue → start behind a heavy backlog under 50 ms", figure: 'flow.fair.p99', below: 50 },
  { text: 'rate limit 5,000/s held within ±2% (every run)', figure: 'flow.rate.achieved', within: [RATE * 0.98, RATE * 1.02], everyRun: true },
  { text: 'fan-in of 10,000 children ≥ 2× BullMQ on time (issue 16)', figure: 'flows.fanin.ms', peer: 'bullmq', maxRatio: 0.5 },
  { text: 'fan-in memory per node ≤ BullMQ (issue 16)', figure: 'flows.fanin.bytes', peer: 'bullmq', maxRatio: 1 },
  { text: 'chain of 1,000 steps ≥ 2× BullMQ on time (issue 16)', figure: 'flows.chain.ms', peer: 'bullmq', maxRatio: 0.5 },
  // Issue 18's speed targets (each in one full run, holding on two consecutive runs).
  { text: 'processing at concurrency 1 ≥ 1.5× BullMQ (issue 18)', figure: 'process.c1', peer: 'bullmq', minRatio: 1.5 },
  { text: 'processing at concurrency 1 ≥ 1.5× Bee-Queue (issue 18)', figure: 'process.c1', peer: 'beequeue', minRatio: 1.5 },
  { text: 'processing at concurrency 10 ≥ 2.5× BullMQ (issue 18)', figure: 'process.c10', peer: 'bullmq', minRatio: 2.5 },
  { text: 'processing at concurrency 100 ≥ 4× BullMQ (issue 18)', figure: 'process.c100', peer: 'bullmq', minRatio: 4 },
  { text: 'processing at concurrency 100 ≥ 3× Bee-Queue (issue 18)', figure: 'process.c100', peer: 'beequeue', minRatio: 3 },
  ...(['p50', 'p99'] as const).flatMap((p) =>
    LATENCY_RATES.map((rate) => ({
      text: `enqueue → completion seen ${p} at ${rate.toLocaleString('en-US')}/s no worse than Bee-Queue (issue 18)`,
      figure: `latency.${rate}.done.${p}`,
      peer: 'beequeue' as const,
      maxRatio: 1,
    })),
  ),
  { text: 'memory per retained completed task ≤ 150 B (issue 18)', figure: 'memory.retained', atMost: 150 },
  { text: 'gateway CPU per HTTP enqueue ≤ 20 µs (issue 18)', figure: 'http.producerCpu', atMost: 20 },
  { text: 'Redis CPU per HTTP-enqueued task ≤ 5 µs (issue 18)', figure: 'http.redisCpu', atMost: 5 },
  { text: '4 partitions on one Redis ≥ 0.9× one, concurrency 10 (issue 18)', figure: 'partitions.c10.ratio', atLeast: 0.9 },
  { text: '4 partitions on one Redis ≥ 0.9× one, concurrency 100 (issue 18)', figure: 'partitions.c100.ratio', atLeast: 0.9 },
];

export interface TargetCheck {
  text: string;
  met: boolean;
  /** What was measured: a ratio like "2.41×" or a value like "0.84 ms". */
  measured: string;
}

function keeps(target: Target, value: number): boolean {
  if (target.below !== undefined && !(value < target.below)) return false;
  if (target.atLeast !== undefined && !(value >= target.atLeast)) return false;
  if (target.atMost !== undefined && !(value <= target.atMost)) return false;
  if (target.within !== undefined && !(value >= target.within[0] && value <= target.within[1])) return false;
  return true;
}

function shown(value: number): string {
  return Math.abs(value) < 100 ? value.toFixed(2) : Math.round(value).toLocaleString('en-US');
}

/** The targets this run can judge (its figures and systems include them). */
export function checkTargets(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const target of TARGETS) {
    const medians = results.summary[target.figure];
    const errand = medians?.errand;
    if (errand === undefined) continue;
    if (!target.peer) {
      const unit = results.figures.find((figure) => figure.key === target.figure)?.unit ?? '';
      const values = target.everyRun ? [errand.min, errand.max] : [errand.median];
      const value = target.everyRun && errand.n > 1 ? `${shown(errand.min)}–${shown(errand.max)}` : shown(values[0]!);
      checks.push({ text: target.text, met: values.every((v) => keeps(target, v)), measured: unit === '×' ? `${value}×` : `${value} ${unit}` });
      continue;
    }
    const peer = medians?.[target.peer]?.median;
    if (peer === undefined || peer === 0) continue;
    const ratio = errand.median / peer;
    let met = true;
    if (target.minRatio !== undefined) met = ratio >= target.minRatio;
    if (target.maxRatio !== undefined) met = target.strict ? ratio < target.maxRatio : ratio <= target.maxRatio;
    checks.push({ text: target.text, met, measured: `${ratio.toFixed(2)}×` });
  }
  return checks;
}
