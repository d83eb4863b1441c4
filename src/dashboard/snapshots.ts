/**
 * What the dashboard shows, read through the admin layer and shaped for the wire
 * (shared.ts): the overview (every queue's counts, last-hour throughput and the totals),
 * one queue, the workers, the schedules, tasks cut down to list previews, and the topics
 * and live channels.
 */
import type { Admin } from '../admin/admin.js';
import { scheduleLagMs } from '../queue/schedules.js';
import type { TaskInfo } from '../queue/task.js';
import {
  DEAD_LETTERS_SHOWN,
  PREVIEW_CHARS,
  RATE_MINUTES,
  type BroadcastSnapshot,
  type Counts,
  type HourTotals,
  type MinutePoint,
  type OverviewSnapshot,
  type QueueSnapshot,
  type SchedulesSnapshot,
  type TaskSummary,
  type WorkersSnapshot,
} from './shared.js';

const HOUR_MINUTES = 60;

function preview(text: string): string {
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS - 1)}…` : text;
}

export function summarize(task: TaskInfo): TaskSummary {
  const summary: TaskSummary = {
    id: task.id,
    state: task.state,
    payload: preview(JSON.stringify(task.payload) ?? 'null'),
    attempt: task.attempt,
    maxAttempts: task.maxAttempts,
    priority: task.priority,
    createdAt: task.createdAt,
  };
  if (task.runAt !== undefined) summary.runAt = task.runAt;
  if (task.finishedAt !== undefined) summary.finishedAt = task.finishedAt;
  if (task.error) summary.error = preview(`${task.error.name}: ${task.error.message}`);
  if (task.worker) summary.worker = task.worker;
  return summary;
}

function hourTotals(points: readonly MinutePoint[]): HourTotals {
  return points.reduce((sum, point) => ({ completed: sum.completed + point.completed, failed: sum.failed + point.failed }), {
    completed: 0,
    failed: 0,
  });
}

function countsOf(source: Counts): Counts {
  const { waiting, delayed, active, completed, failed, cancelled, dependencies } = source;
  return { waiting, delayed, active, completed, failed, cancelled, dependencies };
}

export async function overviewSnapshot(admin: Admin): Promise<OverviewSnapshot> {
  const names = await admin.queueNames();
  const rows = await Promise.all(
    names.map(async (name) => {
      const queue = admin.queue(name);
      const [counts, throughput] = await Promise.all([queue.counts(), queue.throughput({ minutes: HOUR_MINUTES })]);
      return { row: { name, ...countsOf(counts), paused: counts.paused, lastHour: hourTotals(throughput) }, throughput };
    }),
  );
  const totals: Counts = { waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0, cancelled: 0, dependencies: 0 };
  for (const { row } of rows) for (const key of Object.keys(totals) as (keyof Counts)[]) totals[key] += row[key];
  // Every queue's series covers the same minutes (read within a second of each other); sum by minute.
  const byMinute = new Map<number, MinutePoint>();
  for (const { throughput } of rows) {
    for (const point of throughput) {
      const sum = byMinute.get(point.minute) ?? { minute: point.minute, completed: 0, failed: 0 };
      sum.completed += point.completed;
      sum.failed += point.failed;
      byMinute.set(point.minute, sum);
    }
  }
  const throughput = [...byMinute.values()].sort((a, b) => a.minute - b.minute).slice(-HOUR_MINUTES);
  return { queues: rows.map(({ row }) => row), totals, lastHour: hourTotals(throughput), throughput };
}

export async function queueSnapshot(admin: Admin, name: string): Promise<QueueSnapshot> {
  const queue = admin.queue(name);
  const [known, counts, lifetime, throughput, workers] = await Promise.all([
    admin.hasQueue(name),
    queue.counts(),
    admin.totals(name),
    queue.throughput({ minutes: HOUR_MINUTES }),
    queue.workers(),
  ]);
  const partitions = counts.partitions?.map((p) => ({ partition: p.partition, routed: p.routed, paused: p.paused, ...countsOf(p) }));
  return { name, known, counts: countsOf(counts), paused: counts.paused, lifetime, lastHour: hourTotals(throughput), throughput, workers: workers.length, groups: counts.groups, ...(partitions ? { partitions } : {}) };
}

export async function workersSnapshot(admin: Admin): Promise<WorkersSnapshot> {
  const workers = await admin.workers();
  return {
    workers: workers.map(({ id, queue, host, pid, concurrency, running, tasks, leaseMs, startedAt, heartbeatAt }) => ({
      id,
      queue,
      host,
      pid,
      concurrency,
      running,
      tasks,
      leaseMs,
      startedAt,
      heartbeatAt,
    })),
    now: Date.now(),
  };
}

/** Every schedule of every queue, with how late its due slot is on the Redis clock. */
export async function schedulesSnapshot(admin: Admin): Promise<SchedulesSnapshot> {
  const [schedules, now] = await Promise.all([admin.schedules(), admin.redisNowMs()]);
  return {
    schedules: schedules.map((schedule) => {
      const { cron, tz, everyMs, payload, catchUp } = schedule.definition;
      return {
        queue: schedule.queue,
        id: schedule.id,
        cadence: cron !== undefined ? `cron ${cron}${tz ? ` (${tz})` : ''}` : `every ${everyMs! % 1000 === 0 ? `${everyMs! / 1000} s` : `${everyMs} ms`}`,
        payload: preview(JSON.stringify(payload) ?? 'null'),
        catchUp,
        state: schedule.ended ? 'ended' : schedule.paused ? 'paused' : 'active',
        nextRunAt: schedule.nextRunAt,
        lastRunAt: schedule.lastRunAt,
        lastTaskId: schedule.lastTaskId,
        runs: schedule.runs,
        lagMs: scheduleLagMs(schedule, now),
      };
    }),
    now,
  };
}

/** Every topic with its groups, rate and newest dead letters; the channels with subscribers now. */
export async function broadcastSnapshot(admin: Admin): Promise<BroadcastSnapshot> {
  const [infos, live] = await Promise.all([admin.topics.overview(), admin.channels.active()]);
  const topics = await Promise.all(
    infos.map(async ({ name, length, published, deadLetters, groups }) => {
      const topic = admin.topics.topic(name);
      const [points, letters] = await Promise.all([
        topic.throughput({ minutes: RATE_MINUTES }),
        deadLetters > 0 ? topic.deadLetters({ limit: DEAD_LETTERS_SHOWN }) : [],
      ]);
      return {
        name,
        length,
        published,
        deadLetters,
        groups: groups.map(({ name, members, pending, lag, lastDeliveredId }) => ({ name, members, pending, lag, lastDeliveredId })),
        rate: { firstMinute: points[0]?.minute ?? 0, perMinute: points.map((point) => point.published) },
        recentDeadLetters: letters.map((letter) => ({
          id: letter.id,
          group: letter.group,
          attempts: letter.attempts,
          failedAt: letter.failedAt,
          error: preview(`${letter.error.name}: ${letter.error.message}`),
          message: preview(JSON.stringify(letter.message) ?? 'null'),
        })),
      };
    }),
  );
  return { topics, channels: live.channels, channelsTotal: live.total, patterns: live.patterns, partial: live.partial };
}
