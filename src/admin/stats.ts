/**
 * Queue statistics for the faces: one reading per queue (sizes, cumulative counters, live
 * workers), and throughput computed from two readings.
 *
 * Throughput is not stored anywhere: the engine keeps cumulative counters (tasks enqueued,
 * completed, failed for good), and a rate is the difference between two readings divided
 * by the time between them. A face that refreshes (CLI `stats --watch`, the dashboard)
 * keeps its previous reading and passes it back in.
 */
import type { TaskCounts } from '../queue/queue.js';
import type { Admin, QueueTotals } from './admin.js';

export interface QueueStats extends TaskCounts {
  name: string;
  totals: QueueTotals;
  /** Workers with a recent heartbeat. */
  workers: number;
  /** When the reading was taken (epoch ms, this process's clock; only differences matter). */
  sampledAt: number;
}

/** Tasks per second between two readings of the same queue. */
export interface Throughput {
  enqueuedPerSec: number;
  completedPerSec: number;
  failedPerSec: number;
}

/** One reading of each named queue (default: every known queue), in name order. */
export async function readQueueStats(admin: Admin, names?: readonly string[]): Promise<QueueStats[]> {
  const queueNames = names ?? (await admin.queueNames());
  return Promise.all(
    queueNames.map(async (name) => {
      const queue = admin.queue(name);
      const [counts, totals, workers] = await Promise.all([queue.counts(), admin.totals(name), queue.workers()]);
      return { name, ...counts, totals, workers: workers.length, sampledAt: Date.now() };
    }),
  );
}

/**
 * Rates between an earlier and a later reading of one queue, or null when there is no
 * earlier reading or no time passed. A counter that went down (the queue's keys were
 * deleted meanwhile) counts as no progress rather than a negative rate.
 */
export function throughput(before: QueueStats | undefined, after: QueueStats): Throughput | null {
  if (!before) return null;
  const seconds = (after.sampledAt - before.sampledAt) / 1000;
  if (seconds <= 0) return null;
  const rate = (key: keyof QueueTotals) => Math.max(0, after.totals[key] - before.totals[key]) / seconds;
  return { enqueuedPerSec: rate('enqueued'), completedPerSec: rate('completed'), failedPerSec: rate('failed') };
}
