/**
 * Small statistics: percentiles of one run's latencies, the busiest window of a run's
 * event times, and the median with its range across a scenario's repetitions.
 */

/** The p-th percentile (0-100) by the nearest-rank method; NaN for no values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Summarizes latencies given in microseconds, as milliseconds. */
export function summarizeLatencyUs(valuesUs: readonly number[]): LatencySummary {
  const sorted = [...valuesUs].sort((a, b) => a - b);
  const ms = (us: number) => us / 1000;
  return {
    count: sorted.length,
    p50: ms(percentile(sorted, 50)),
    p95: ms(percentile(sorted, 95)),
    p99: ms(percentile(sorted, 99)),
    max: ms(sorted.length ? sorted[sorted.length - 1]! : Number.NaN),
  };
}

/**
 * The most of `sorted` (ascending times) that fall in any window [x, x + width): a sliding
 * window, not fixed buckets, so a burst across a bucket edge counts whole. 0 for none.
 */
export function mostInWindow(sorted: readonly number[], width: number): number {
  let most = 0;
  let first = 0;
  for (let last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= width) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Median (mean of the middle two for an even count), min and max; NaNs are left out. */
export function spread(values: readonly number[]): Spread | undefined {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, n: sorted.length };
}
