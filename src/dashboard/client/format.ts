/** How numbers, times and durations read in the dashboard. */

const numberFormat = new Intl.NumberFormat('en-US');

export function count(n: number): string {
  return numberFormat.format(n);
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Local date and time to the second, e.g. 2026-01-05 14:03:27. */
export function time(ms: number | undefined | null): string {
  if (ms === undefined || ms === null) return '—';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local hour and minute of an epoch minute. */
export function clock(minute: number): string {
  const d = new Date(minute * 60_000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
}

export function ago(ms: number, now: number): string {
  return `${duration(Math.max(0, now - ms))} ago`;
}

/** Failed share of finished tasks, e.g. "2.5 %", or "—" when nothing finished. */
export function failureRate(completed: number, failed: number): string {
  const total = completed + failed;
  if (total === 0) return '—';
  const rate = (failed / total) * 100;
  return `${rate < 10 && rate > 0 ? rate.toFixed(1) : Math.round(rate)} %`;
}

/** A JSON value as the task page shows it. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'undefined';
}
