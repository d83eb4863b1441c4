/**
 * Reading a task's log (the lines its handlers wrote with `context.log()`; the task-log
 * script keeps them): all of it, or followed as lines arrive until the task is final.
 *
 * Responsible for: decoding the stored entries (`<epoch ms>|<attempt>|<text>`); telling
 * how many lines came before the oldest one kept (the log's bounds drop the oldest; the
 * task hash counts them), so readers can say so; and reading on from a position while
 * lines are being added and dropped (positions count every line ever written, dropped
 * ones included).
 */
import { TaskNotFoundError } from '../errors.js';
import { TASK_FIELDS as F, type QueueKeys } from '../redis/keys.js';
import type { RedisClient } from '../redis/scripts.js';
import { FINAL_STATES, stateFromCode, type TaskState } from './states.js';

/** One line of a task's log. */
export interface TaskLogLine {
  /** When it was logged: epoch ms, Redis clock. */
  at: number;
  /** The attempt that logged it (numbered across manual retries, as in the task's history). */
  attempt: number;
  message: string;
}

/** A task's log: its lines, oldest first, and how many older ones were dropped. */
export interface TaskLogs {
  /** Lines dropped before the first one here (the log keeps 1,000 lines and 64 KiB). */
  dropped: number;
  lines: TaskLogLine[];
}

export interface FollowLogsOptions {
  /** Stops following: the iterator ends quietly. */
  signal?: AbortSignal;
}

interface Read extends TaskLogs {
  state: TaskState;
  /** The position after the last line read. */
  next: number;
  /** Lines the log has dropped in all (its counter): where its first line kept stands. */
  droppedInAll: number;
}

function parse(entry: string): TaskLogLine {
  const first = entry.indexOf('|');
  const second = entry.indexOf('|', first + 1);
  return { at: Number(entry.slice(0, first)), attempt: Number(entry.slice(first + 1, second)), message: entry.slice(second + 1) };
}

export class TaskLogReader {
  constructor(
    private readonly queue: string,
    private readonly keys: QueueKeys,
    private readonly client: () => RedisClient,
  ) {}

  /** The log from position `from` on (0: all of it); null when the task does not exist. */
  async read(id: string, from = 0, knownDropped = 0): Promise<Read | null> {
    // One transaction reads the counter and the lines together. Asking from where the
    // caller expects its position to be saves sending lines it has; if lines were dropped
    // since, the positions moved, and the whole list is read again (one more trip).
    let offset = Math.max(0, from - knownDropped);
    for (;;) {
      const replies = (await this.client()
        .multi()
        .hmget(this.keys.task(id), F.state, F.logsDropped)
        .lrange(this.keys.logs(id), offset, -1)
        .exec()) as [Error | null, unknown][] | null;
      const [fields, entries] = (replies ?? []).map(([error, value]) => {
        if (error) throw error;
        return value;
      }) as [(string | null)[], string[]];
      const state = stateFromCode(fields[0] ?? undefined);
      if (!state) return null;
      const dropped = Number(fields[1] ?? 0);
      if (offset > 0 && dropped !== knownDropped) {
        offset = 0;
        knownDropped = dropped;
        continue;
      }
      const start = dropped + offset; // the position of entries[0]
      const skip = Math.max(0, from - start);
      return { state, dropped: Math.max(0, dropped - from), lines: entries.slice(skip).map(parse), next: start + entries.length, droppedInAll: dropped };
    }
  }

  /**
   * The log's lines as they arrive, in batches, starting with those there now; ends once
   * the task is final (or removed) and its last lines are read, or on abort. Each batch
   * says how many lines were dropped just before it (written and dropped between two
   * reads). Throws TaskNotFoundError if the task does not exist at the start.
   */
  async *follow(id: string, changes: AsyncIterable<void>): AsyncGenerator<TaskLogs, void, undefined> {
    let position = 0;
    let dropped = 0;
    let seen = false;
    for await (const _ of changes) {
      const read = await this.read(id, position, dropped);
      if (!read) {
        if (!seen) throw new TaskNotFoundError(this.queue, id);
        return; // removed
      }
      seen = true;
      dropped = read.droppedInAll;
      if (read.lines.length || read.dropped) yield { dropped: read.dropped, lines: read.lines };
      position = read.next;
      if (FINAL_STATES.includes(read.state)) return;
    }
  }
}
