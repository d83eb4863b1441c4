/**
 * Partitioned queues: one logical queue over N partitions, each an ordinary queue layout with
 * its own hash tag, so one hot queue can use every master of a Redis Cluster.
 *
 * Responsible for: the layout (kept in the queue's own `settings` hash, one owner: how many
 * partitions producers route to, and the mark of every partition ever made, which workers
 * drain), which partition a task goes to (routing), which partition a task id names, how
 * queue-wide settings split over the partitions, and placing a new partition's hash tag on
 * a cluster master so partitions spread evenly. Partition 0 is the queue itself (an
 * unpartitioned queue is a layout of one); partition n is the queue `<queue>~<n>` (on a
 * cluster `<queue>~<n>.<placement>`), and its generated ids end with the same mark.
 * See docs/semantics.md § Partitioned queues.
 */
import { Cluster } from 'ioredis';
import { ValidationError } from '../errors.js';
import { PARTITION_MARK, QueueKeys, SETTINGS_FIELDS as S } from '../redis/keys.js';
import type { RedisClient } from '../redis/scripts.js';
import { slotOf } from '../redis/slot.js';

/** The most partitions a queue may have. */
export const MAX_PARTITIONS = 128;

/** A queue's partitions as stored. */
export interface Layout {
  /** How many partitions producers route to: the first `partitions` of `marks`. */
  partitions: number;
  /** Every partition ever made, by number: its mark ('' for the queue itself). Those from `partitions` on are drained, not written to. */
  marks: string[];
}

export const SINGLE: Layout = Object.freeze({ partitions: 1, marks: [''] }) as Layout;

/** The layout from the settings fields `partitions` and `partitions.lanes` (absent: one partition). */
export function layoutOf(partitions: string | null | undefined, lanes: string | null | undefined): Layout {
  const count = partitions ? Number(partitions) : 1;
  const marks = ['', ...(lanes ? lanes.split(',') : [])];
  return { partitions: Math.max(1, Math.min(count, marks.length)), marks };
}

/** Reads a queue's layout (one HMGET of its settings hash). */
export async function readLayout(client: RedisClient, keys: QueueKeys): Promise<Layout> {
  const [partitions, lanes] = await client.hmget(keys.settings, S.partitions, S.partitionLanes);
  return layoutOf(partitions, lanes);
}

/** The name of a queue's partition with this mark (the layout QueueKeys are built on). */
export function partitionName(queue: string, mark: string): string {
  return queue + mark;
}

/** A partition's number from its mark (`~3.17` → 3; '' → 0). */
export function partitionNumber(mark: string): number {
  return mark ? Number.parseInt(mark.slice(1), 10) : 0;
}

/** A generated id's partition mark (`...~3.17` → `~3.17`), or undefined for an id without one. */
export function markOfId(id: string): string | undefined {
  const at = id.indexOf(PARTITION_MARK);
  return at < 0 ? undefined : id.slice(at);
}

/** FNV-1a, 32 bits: a stable hash of a routing key (the same in every process and version). */
export function routingHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * The partition a task must go to, or undefined when any will do: by its group, else its
 * dedupe key, else its id. So a group's fairness, limits and pause hold within one
 * partition (a grouped task's dedupe key and id are checked in its group's partition), and
 * a dedupe key's check and an id's lookup stay within one.
 */
export function routeOf(task: { id?: string; dedupeKey?: string; group?: string } | string, partitions: number): number | undefined {
  if (partitions <= 1) return 0;
  if (typeof task === 'string') return undefined;
  const key = (task.group ? `group:${task.group}` : '') || task.dedupeKey || (task.id ? `id:${task.id}` : '');
  return key ? routingHash(key) % partitions : undefined;
}

/**
 * Tasks of one batch that any partition may take: fewer than this per partition go whole to
 * the next partition in turn (one script call), more are shared out evenly (one call each).
 */
const MIN_SLICE = 64;

/**
 * Which partition (by mark) each task of a batch goes to (`indexes` into the batch, `task`
 * gives one): a task with a dedupe key, id or group to its partition (routeOf); the others
 * whole to the partition at `rotation`, or shared out evenly from there when there are many.
 * Returns the tasks by mark, in batch order, and the next rotation.
 */
export function routeBatch(
  layout: Layout,
  indexes: readonly number[],
  task: (index: number) => Parameters<typeof routeOf>[0],
  rotation: number,
  /** Share out the tasks any partition may take over every partition, however few (a batch one partition refused as full). */
  spread = false,
): { byMark: Map<string, number[]>; rotation: number } {
  const { partitions, marks } = layout;
  if (partitions === 1) return { byMark: new Map([[marks[0]!, [...indexes]]]), rotation };
  const byMark = new Map<string, number[]>();
  const add = (mark: string, index: number) => {
    const list = byMark.get(mark);
    if (list) list.push(index);
    else byMark.set(mark, [index]);
  };
  const free: number[] = [];
  for (const index of indexes) {
    const n = routeOf(task(index), partitions);
    if (n === undefined) free.push(index);
    else add(marks[n]!, index);
  }
  const slices = spread ? Math.min(partitions, free.length) : Math.min(partitions, Math.max(1, Math.floor(free.length / MIN_SLICE)));
  for (let s = 0; s < slices; s++) {
    const mark = marks[(rotation + s) % partitions]!;
    for (let i = Math.floor((s * free.length) / slices); i < Math.floor(((s + 1) * free.length) / slices); i++) add(mark, free[i]!);
  }
  for (const list of byMark.values()) list.sort((a, b) => a - b);
  return { byMark, rotation: free.length ? (rotation + slices) % partitions : rotation };
}

/** The settings that are a budget over all partitions: each partition enforces its share. */
const SHARED_FIELDS: readonly string[] = [S.maxWaiting, S.rateMax, S.concurrency];
/** Retention counts: each partition keeps its share (rounded up), so the queue keeps about the count. */
const KEPT_FIELDS: readonly string[] = [S.completedCount, S.failedCount];
/** Fields that are not settings of their own (the version, the layout). */
const LAYOUT_FIELDS: readonly string[] = [S.version, S.partitions, S.partitionLanes, S.partitionLogical];

/** Partition `lane`'s share of `total` over `partitions`: the remainder goes to the first ones. */
export function shareOf(total: number, partitions: number, lane: number): number {
  const n = lane % partitions;
  return Math.floor(total / partitions) + (n < total % partitions ? 1 : 0);
}

/**
 * The settings fields one partition stores for the queue's settings `logical` (field → value)
 * split over `partitions`: budgets (maxWaiting, the rate limit's max, concurrency) shared out,
 * retention counts divided (rounded up), everything else (windows, ages, group limits: a
 * group lives in one partition) as is. '' removes a field. A drained partition (number ≥
 * `partitions`) gets the share of partition `number mod partitions`.
 */
export function partitionFields(logical: Record<string, string>, partitions: number, lane: number): [string, string][] {
  const fields: [string, string][] = [];
  for (const field of Object.values(S)) {
    if (LAYOUT_FIELDS.includes(field)) continue;
    const value = logical[field];
    if (value === undefined || value === '') fields.push([field, '']);
    else if (SHARED_FIELDS.includes(field)) fields.push([field, String(shareOf(Number(value), partitions, lane))]);
    else if (KEPT_FIELDS.includes(field)) fields.push([field, String(Math.ceil(Number(value) / partitions))]);
    else fields.push([field, value]);
  }
  fields.push([S.partitions, String(partitions)]);
  return fields;
}

/** Refuses budgets too small to give every partition a share of at least one. */
export function checkShares(logical: Record<string, string>, partitions: number): void {
  if (partitions <= 1) return;
  const names: Record<string, string> = { [S.maxWaiting]: 'maxWaiting', [S.rateMax]: 'rateLimit.max', [S.concurrency]: 'concurrency' };
  for (const field of SHARED_FIELDS) {
    const value = logical[field];
    if (value !== undefined && value !== '' && Number(value) < partitions) {
      throw new ValidationError(
        `${names[field]} ${value} cannot be shared by ${partitions} partitions (each enforces its share, at least 1): raise it to ${partitions} or more, or use fewer partitions`,
      );
    }
  }
}

/** The settings fields of a queue that carry its own settings (not its layout or version). */
export function ownSettings(hash: Record<string, string>): Record<string, string> {
  const own: Record<string, string> = {};
  for (const [field, value] of Object.entries(hash)) if (!LAYOUT_FIELDS.includes(field)) own[field] = value;
  return own;
}

/**
 * Marks for partitions `from` to `to - 1`. On a single Redis, `~<n>`. On a cluster, each
 * new partition goes to the master after the previous one's, in node-id order starting
 * from the queue's own master, so the first N partitions take N / masters each: its mark
 * is `~<n>.<placement>`, the first placement whose hash slot that master serves.
 */
export async function placePartitions(client: RedisClient, queue: string, from: number, to: number): Promise<string[]> {
  const marks: string[] = [];
  if (!(client instanceof Cluster)) {
    for (let n = from; n < to; n++) marks.push(`${PARTITION_MARK}${n}`);
    return marks;
  }
  const owner = new Array<string>(16_384);
  const slots = (await client.cluster('SLOTS')) as unknown as [number, number, [string, number, string?]][];
  for (const [start, end, master] of slots) for (let slot = start; slot <= end; slot++) owner[slot] = master[2] ?? `${master[0]}:${master[1]}`;
  const masters = [...new Set(owner.filter((id) => id !== undefined))].sort();
  if (!masters.length) throw new Error('the cluster serves no slots: partitions cannot be placed');
  const first = Math.max(0, masters.indexOf(owner[slotOf(queue)]!));
  for (let n = from; n < to; n++) {
    const target = masters[(first + n) % masters.length];
    let placement = 0;
    while (owner[slotOf(`${queue}${PARTITION_MARK}${n}.${placement}`)] !== target) {
      if (++placement === 1_000_000) throw new Error(`no hash tag for partition ${n} of queue "${queue}" lands on master ${target}: its slots may be few; rebalance the cluster's slots, then configure again`);
    }
    marks.push(`${PARTITION_MARK}${n}.${placement}`);
  }
  return marks;
}

/** Parses a partition count given by a user (configure's `partitions`). */
export function checkPartitionCount(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_PARTITIONS) {
    throw new ValidationError(`invalid queue settings: partitions must be a whole number from 1 to ${MAX_PARTITIONS}, got ${JSON.stringify(value)}`);
  }
  return value;
}
