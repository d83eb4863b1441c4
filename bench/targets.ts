/**
 * The speed targets of issue 3 (and issue 17's for isolated processing), checked against a run's medians. They read ratios
 * Errand/peer (and one absolute bound), as the issue states them.
 */
import type { BenchResults } from './results.js';
import type { SystemName } from './systems/types.js';

interface Target {
  text: string;
  figure: string;
  /** Peer to compare with; absent for an absolute bound. */
  peer?: Exclude<SystemName, 'errand'>;
  /** Errand/peer must be at least this (higher is better) ... */
  minRatio?: number;
  /** ... or at most this (lower is better); `strict` for "below". */
  maxRatio?: number;
  strict?: boolean;
  /** Errand's median must be under this, in the figure's unit. */
  below?: number;
}

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
];

export interface TargetCheck {
  text: string;
  met: boolean;
  /** What was measured: a ratio like "2.41×" or a value like "0.84 ms". */
  measured: string;
}

/** The targets this run can judge (its figures and systems include them). */
export function checkTargets(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const target of TARGETS) {
    const medians = results.summary[target.figure];
    const errand = medians?.errand?.median;
    if (errand === undefined) continue;
    if (target.below !== undefined) {
      const unit = results.figures.find((figure) => figure.key === target.figure)?.unit ?? '';
      checks.push({ text: target.text, met: errand < target.below, measured: `${errand.toFixed(2)} ${unit}` });
      continue;
    }
    const peer = target.peer ? medians?.[target.peer]?.median : undefined;
    if (peer === undefined || peer === 0) continue;
    const ratio = errand / peer;
    let met = true;
    if (target.minRatio !== undefined) met = ratio >= target.minRatio;
    if (target.maxRatio !== undefined) met = target.strict ? ratio < target.maxRatio : ratio <= target.maxRatio;
    checks.push({ text: target.text, met, measured: `${ratio.toFixed(2)}×` });
  }
  return checks;
}
