/**
 * The admin reads of a queue: a task by id, the tasks in one state (a page), the live
 * workers, and the per-minute throughput history. For the dashboard, the CLI and the
 * gateway: reads only, each a few round trips, none on a hot path.
 */
import { ValidationError } from '../errors.js';
import type { QueueKeys } from '../redis/keys.js';
import { readMinuteCounts, validateMinutes } from '../redis/minute-counts.js';
import type { RedisClient } from '../redis/scripts.js';
import { TASK_STATES, type TaskState } from './states.js';
import { decodeTask, type TaskInfo } from './task.js';

export interface TaskCounts {
  waiting: number;
  delayed: number;
  active: number;
  completed: number;
  failed: number;
  cancelled: number;
  paused: boolean;
  /** Groups with waiting tasks. */
  groups: number;
  /** Flow parents waiting for their children (and flow nodes not yet released). */
  dependencies: number;
  /** A partitioned queue's partitions, each with its own counts (the fields above are their sums). */
  partitions?: PartitionCounts[];
}

export interface PartitionCounts extends Omit<TaskCounts, 'partitions'> {
  /** The partition's number (0: the queue's own layout). */
  partition: number;
  /** Producers route new tasks to it (false: it is being drained after the count was lowered). */
  routed: boolean;
}

/** A live worker, as its heartbeat describes it. Times are epoch ms. */
export interface WorkerInfo {
  id: string;
  queue: string;
  host: string;
  pid: number;
  concurrency: number;
  /** Where its handlers run, when isolated: worker threads or child processes. */
  isolation?: 'thread' | 'process';
  /** Handlers running at the last heartbeat. */
  running: number;
  /** Ids of the tasks it held then. */
  tasks: string[];
  leaseMs: number;
  startedAt: number;
  heartbeatAt: number;
}

/** Tasks that finished in one minute (`minute` = epoch ms / 60,000, floored). */
export interface ThroughputPoint {
  minute: number;
  completed: number;
  failed: number;
}

export class QueueReads<P, R> {
  constructor(
    private readonly queue: string,
    private readonly keys: QueueKeys,
    private readonly client: () => RedisClient,
  ) {}

  /** Everything stored about a task, or null if there is no such task (any more). */
  async task(id: string): Promise<TaskInfo<P, R> | null> {
    const hash = await this.client().hgetall(this.keys.task(id));
    const task = decodeTask<P, R>(this.queue, id, hash);
    if (task) await this.attachHolders([task]);
    return task;
  }

  async list(state: TaskState, { offset = 0, limit = 50 }: { offset?: number; limit?: number }): Promise<TaskInfo<P, R>[]> {
    if (!TASK_STATES.includes(state)) throw new ValidationError(`unknown state ${JSON.stringify(state)}: use one of ${TASK_STATES.join(', ')}`);
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new ValidationError('offset must be a whole number >= 0 and limit one from 1 to 1000');
    }
    const ids = await this.listIds(state, offset, limit);
    const pipeline = this.client().pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.task(id));
    const replies = (await pipeline.exec()) ?? [];
    const tasks = ids.flatMap((id, index) => {
      const task = decodeTask<P, R>(this.queue, id, (replies[index]?.[1] ?? {}) as Record<string, string>);
      return task ? [task] : [];
    });
    await this.attachHolders(tasks);
    return tasks;
  }

  async throughput({ minutes = 60 }: { minutes?: number }): Promise<ThroughputPoint[]> {
    return readMinuteCounts(this.client(), (hour) => this.keys.stats(hour), validateMinutes(minutes), (minute, counts) => ({
      minute,
      completed: counts.get(`${minute}:completed`) ?? 0,
      failed: counts.get(`${minute}:failed`) ?? 0,
    }));
  }

  /** Workers that sent a heartbeat within their lease time; stale records are dropped. */
  async workers(): Promise<WorkerInfo[]> {
    const client = this.client();
    const [records, time] = await Promise.all([client.hgetall(this.keys.workers), client.time()]);
    const nowMs = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    const live: WorkerInfo[] = [];
    const stale: string[] = [];
    for (const [id, json] of Object.entries(records)) {
      const info = JSON.parse(json) as WorkerInfo;
      if (nowMs - info.heartbeatAt > info.leaseMs) stale.push(id);
      else live.push(info);
    }
    if (stale.length) await client.hdel(this.keys.workers, ...stale);
    return live.sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Names the lease holder of active tasks from the workers' heartbeats (which list the
   * tasks each holds): the hot path keeps no holder in the task hash.
   */
  private async attachHolders(tasks: TaskInfo<P, R>[]): Promise<void> {
    const active = tasks.filter((task) => task.state === 'active');
    if (!active.length) return;
    const holders = new Map<string, string>();
    for (const worker of await this.workers()) for (const id of worker.tasks) holders.set(id, worker.id);
    for (const task of active) {
      const holder = holders.get(task.id);
      if (holder) task.worker = holder;
    }
  }

  private async listIds(state: TaskState, offset: number, limit: number): Promise<string[]> {
    const k = this.keys;
    const client = this.client();
    const end = offset + limit - 1;
    switch (state) {
      case 'delayed':
        return client.zrange(k.delayed, offset, end);
      case 'dependencies':
        return client.zrange(k.dependencies, offset, end);
      case 'active':
        // Deadlines only: the +inf member is the encoding sentinel (lib/leases.lua).
        return client.zrange(k.active, '-inf', '(+inf', 'BYSCORE', 'LIMIT', offset, limit);
      case 'completed':
      case 'failed':
      case 'cancelled':
        return client.lrange(k[state], offset, end);
      case 'waiting': {
        // Levels in claim order; within a level the next task is at the right end.
        const levels = await client.zrange(k.priorities, 0, -1);
        const ids: string[] = [];
        let skip = offset;
        for (const level of levels) {
          const all = (await client.lrange(k.waiting(level), 0, -1)).reverse();
          const take = all.slice(skip, skip + limit - ids.length);
          skip = Math.max(0, skip - all.length);
          ids.push(...take);
          if (ids.length >= limit) break;
        }
        // Then the groups' lines, group by group (claims rotate over them).
        for (const group of (await client.hkeys(k.groupState)).sort()) {
          if (ids.length >= limit) break;
          for (const level of await client.zrange(k.groupPriorities(group), 0, -1)) {
            const all = (await client.lrange(k.groupWaiting(group, level), 0, -1)).reverse();
            const take = all.slice(skip, skip + limit - ids.length);
            skip = Math.max(0, skip - all.length);
            ids.push(...take);
            if (ids.length >= limit) break;
          }
        }
        return ids;
      }
    }
  }
}
