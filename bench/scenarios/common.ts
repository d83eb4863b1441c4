/**
 * Pieces the scenarios share: making payloads, pre-loading tasks, and the correctness
 * checks every run ends with (nothing lost, nothing run twice, counts as expected).
 */
import { nowUs } from '../clock.js';
import type { BenchPayload, Producer, QueueCounts } from '../systems/types.js';
import type { WorkerReport } from '../worker-protocol.js';

/** A payload numbered `i`, stamped now; `unrecorded`: its start latency is not recorded (`w`). */
export function payload(i: number, unrecorded = false): BenchPayload {
  return unrecorded ? { i, t: nowUs(), w: 1 } : { i, t: nowUs() };
}

export interface BatchOptions {
  /** Number of the first task (default 0). */
  from?: number;
  /** The tasks' start latencies are not recorded (background load). */
  unrecorded?: boolean;
  /** Each task's group (Errand only). */
  groupOf?: (payload: BenchPayload) => string;
}

/** Adds `count` tasks in batch calls of `batch`, one call after another. */
export async function enqueueInBatches(producer: Producer, count: number, batch: number, options: BatchOptions = {}): Promise<void> {
  const { from = 0, unrecorded = false, groupOf } = options;
  for (let start = 0; start < count; start += batch) {
    const size = Math.min(batch, count - start);
    const payloads = Array.from({ length: size }, (_, k) => payload(from + start + k, unrecorded));
    await producer.enqueueBulk(payloads, groupOf);
  }
}

/** Problems in a queue's counts compared with what a run expected. */
export function checkCounts(counts: QueueCounts, expected: Partial<QueueCounts>): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(expected) as [keyof QueueCounts, number][]) {
    if (counts[name] !== value) problems.push(`${name} count is ${counts[name]}, expected ${value}`);
  }
  return problems;
}

/** Problems in what a worker saw, for a run of `tasks` tasks that should all complete. */
export function checkWorker(report: WorkerReport, tasks: number): string[] {
  const problems: string[] = [];
  if (report.distinct !== tasks) problems.push(`worker started ${report.distinct} distinct tasks of ${tasks}`);
  if (report.starts !== report.distinct) problems.push(`worker ran ${report.starts - report.distinct} tasks twice`);
  if (report.completed !== tasks) problems.push(`worker saw ${report.completed} completions of ${tasks}`);
  for (const error of report.errors) problems.push(`worker error: ${error}`);
  return problems;
}
