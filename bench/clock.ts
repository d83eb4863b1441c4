/**
 * One clock for latencies measured across processes. `process.hrtime` reads Linux's
 * CLOCK_MONOTONIC, which is system-wide: a timestamp taken in the producer and one taken
 * in the worker process are comparable, in microseconds, unaffected by wall-clock steps.
 */

/** Microseconds on the machine's monotonic clock. */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Milliseconds since `startUs`, as a float. */
export function elapsedMs(startUs: number): number {
  return (nowUs() - startUs) / 1000;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
