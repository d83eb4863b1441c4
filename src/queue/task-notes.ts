/**
 * A worker's writer of what its handlers report while they run: progress values and log
 * lines (`context.progress()`, `context.log()`).
 *
 * Responsible for: coalescing (a task's latest progress replaces the one not yet sent; log
 * lines pile up, within a task log's bounds, the oldest dropped and counted); sending what
 * piled up for every task in one round trip (the progress and task-log scripts, written
 * back to back), at most one round trip in flight and at most one per FLUSH_INTERVAL_MS,
 * so a handler that reports in a tight loop costs a few writes a second, not one per call;
 * and telling the handler runner when all a task noted is written, so its last progress
 * and lines reach Redis before its completion does.
 *
 * Best effort: the scripts refuse notes of a lease that was lost (they change nothing),
 * and a round trip that fails (Redis unreachable) is reported, and its notes are dropped.
 */
import { TASK_LOG_LIMITS } from '../config.js';
import type { QueueKeys } from '../redis/keys.js';
import * as scripts from '../redis/queue-scripts.js';
import { runScript, type RedisClient } from '../redis/scripts.js';

/** The shortest time between two round trips of notes. */
export const FLUSH_INTERVAL_MS = 100;

interface Pending {
  /** The keys of the task's queue layout (its partition's, on a partitioned queue). */
  keys: QueueKeys;
  token: string;
  /** The latest progress JSON, not yet sent. */
  progress: string | undefined;
  lines: { at: number; text: string }[];
  dropped: number;
}

export interface TaskNotesOptions {
  client: RedisClient;
  /** The keys of the layout (partition) that holds a task this worker runs. */
  keysOf(id: string): QueueKeys;
  report(error: Error): void;
}

export class TaskNotes {
  private pending = new Map<string, Pending>();
  /** Ids whose notes travel in the round trip in flight. */
  private flying = new Set<string>();
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastFlushAt = 0;
  /** Someone waits for the pending notes: send them without waiting for the interval. */
  private urgent = false;
  private waiters: (() => void)[] = [];

  constructor(private readonly options: TaskNotesOptions) {}

  progress(id: string, token: string, json: string): void {
    this.entry(id, token).progress = json;
    this.schedule();
  }

  log(id: string, token: string, text: string): void {
    const entry = this.entry(id, token);
    entry.lines.push({ at: Date.now(), text: cutLine(text) });
    // More than a log keeps between two flushes: the oldest would be dropped by Redis anyway.
    if (entry.lines.length > TASK_LOG_LIMITS.lines) {
      entry.lines.shift();
      entry.dropped++;
    }
    this.schedule();
  }

  /**
   * Resolves once everything noted so far for the task is written (or refused); undefined
   * when nothing is waiting or on its way.
   */
  settled(id: string): Promise<void> | undefined {
    if (this.pending.has(id)) {
      this.urgent = true;
      this.schedule();
      return new Promise((resolve) => this.waiters.push(resolve));
    }
    return this.flying.has(id) ? this.inFlight : undefined;
  }

  /** Sends what is pending and waits for it (at close). */
  async close(): Promise<void> {
    while (this.inFlight || this.pending.size) {
      if (this.inFlight) await this.inFlight;
      else await this.flush();
    }
    clearTimeout(this.timer);
  }

  private entry(id: string, token: string): Pending {
    let entry = this.pending.get(id);
    if (!entry || entry.token !== token) {
      entry = { keys: this.options.keysOf(id), token, progress: undefined, lines: [], dropped: 0 };
      this.pending.set(id, entry);
    }
    return entry;
  }

  private schedule(): void {
    if (this.inFlight) return; // its end schedules the next
    if (this.timer && !this.urgent) return;
    clearTimeout(this.timer);
    const waitMs = this.urgent ? 0 : Math.max(0, this.lastFlushAt + FLUSH_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, waitMs);
  }

  private flush(): Promise<void> {
    const batch = this.pending;
    const waiters = this.waiters;
    this.pending = new Map();
    this.waiters = [];
    this.urgent = false;
    this.lastFlushAt = Date.now();
    this.flying = new Set(batch.keys());
    this.inFlight = this.send(batch).finally(() => {
      this.inFlight = undefined;
      this.flying = new Set();
      for (const resolve of waiters) resolve();
      if (this.pending.size) this.schedule();
    });
    return this.inFlight;
  }

  private async send(batch: Map<string, Pending>): Promise<void> {
    const { client } = this.options;
    const now = Date.now();
    // Per layout (one, unless the queue is partitioned): its progress notes and log batches.
    const layouts = new Map<QueueKeys, { progress: scripts.ProgressNote[]; logs: scripts.LogBatch[] }>();
    for (const [id, entry] of batch) {
      let notes = layouts.get(entry.keys);
      if (!notes) layouts.set(entry.keys, (notes = { progress: [], logs: [] }));
      if (entry.progress !== undefined) notes.progress.push({ id, token: entry.token, json: entry.progress });
      if (entry.lines.length) {
        const lines = entry.lines.map((line) => ({ ageMs: Math.max(0, now - line.at), text: line.text }));
        notes.logs.push({ id, token: entry.token, dropped: entry.dropped, lines });
      }
    }
    const calls: Promise<unknown>[] = [];
    for (const [keys, { progress, logs }] of layouts) {
      if (progress.length) calls.push(runScript(client, scripts.progress(keys, progress)));
      if (logs.length) calls.push(runScript(client, scripts.appendLogs(keys, { maxLines: TASK_LOG_LIMITS.lines, maxBytes: TASK_LOG_LIMITS.bytes, batches: logs })));
    }
    // LEASE_LOST statuses need nothing: the heartbeat tells the runner about lost leases.
    const settled = await Promise.allSettled(calls);
    for (const result of settled) {
      // Notes are not retried: the next progress supersedes this one, and a handler's log
      // is a help, not a record the task's outcome depends on.
      if (result.status === 'rejected') this.options.report(result.reason as Error);
    }
  }
}

/** A line cut to the log's line bound (in UTF-8 bytes), marked with '…' where it was cut. */
export function cutLine(text: string): string {
  const limit = TASK_LOG_LIMITS.lineBytes;
  if (text.length * 3 <= limit) return text; // every character fits in 3 bytes
  const bytes = Buffer.from(text);
  if (bytes.length <= limit) return text;
  // Cut on a character boundary: drop a partial character the cut leaves at the end.
  return bytes.subarray(0, limit - 3).toString('utf8').replace(/\uFFFD$/, '') + '…';
}
