/**
 * The typed boundary to the queue scripts: one function per script, owning its KEYS (the
 * queue's fence first, then one declared key), the order and units of its ARGV, and the
 * decoding of its reply. Callers (producer, worker, lease keeper, list bridge, tests) pass
 * and get named values; nobody else assembles KEYS or ARGV. See each script's header in
 * scripts/ for the contract these functions implement.
 */
import { DEFAULT_ATTEMPTS } from '../config.js';
import type { QueueKeys } from './keys.js';
import type { Arg, ScriptCall, ScriptName } from './scripts.js';
import { Status, type StatusCode } from './status.js';

/** A task with options, as enqueue takes it ('' or undefined: unset / default). */
export interface TaskRecord {
  /** '' to generate one. */
  id: string;
  payloadJson: string;
  priority: number;
  delayMs: number;
  /** Epoch ms; undefined for none. */
  runAt: number | undefined;
  maxAttempts: number;
  /** '' for none. */
  backoffJson: string;
  timeoutMs: number | undefined;
  /** '' for none. */
  dedupeKey: string;
  /** '' for none. */
  group: string;
  /** The producer's trace context (W3C traceparent); '' or undefined for none. */
  traceparent?: string;
}

/** A task to enqueue: its payload JSON alone when every option is the default, else its record. */
export type EncodedTask = string | TaskRecord;

export type EnqueueReply =
  | { full: true; maxWaiting: number; layoutChanged?: undefined }
  | { full: false; tasks: { id: string; created: boolean }[]; layoutChanged?: undefined }
  /** The queue's partition count is not the one the batch was routed by: nothing written. */
  | { full: false; tasks: []; layoutChanged: number };

export interface ClaimedTask {
  id: string;
  /** The lease's fencing token. */
  token: string;
  attempt: number;
  maxAttempts: number;
  payloadJson: string;
  /** '' when the task has no backoff of its own. */
  backoffJson: string;
  timeoutMs: number | undefined;
  createdAt: number;
  /** '' for none. */
  group: string;
  /** The producer's trace context (W3C traceparent); '' for none. */
  traceparent: string;
  /** A flow child's parent, `<queue>|<id>`; '' for none. */
  parent: string;
  /** A chain step: its payload is the previous step's result. */
  chained: boolean;
  /** A flow parent: its handler may read its children. */
  hasChildren: boolean;
}

export interface ClaimReply {
  /** ms until the next delayed task, schedule slot or lease deadline falls due (-1: none; 0: more is due now). */
  dueInMs: number;
  paused: boolean;
  /** How many cron schedules wait for their slots to be computed (the worker computes them). */
  schedulesToRefill: number;
  /** ms until the next schedule slot falls due (-1: none). */
  scheduleDueInMs: number;
  tasks: ClaimedTask[];
}

export interface ClaimRequest {
  max: number;
  leaseMs: number;
}

export interface HeldLease {
  id: string;
  token: string;
}

export interface FinishedTask extends HeldLease {
  /** '' when the handler returned undefined. */
  resultJson: string;
}

export interface FailedAttempt extends HeldLease {
  errorJson: string;
  /** -1: no retry (unrecoverable, or attempts exhausted). */
  retryDelayMs: number;
}

/** What an admin action (cancel, retry, remove) answered. */
export interface ActionReply {
  status: StatusCode;
  /** The task's stored state code, for INVALID_STATE. */
  state: string | undefined;
  /** A retried flow parent's children to retry in turn (`<queue>|<id>`; retry.lua). */
  children: string[];
}

export interface RawCounts {
  waiting: number;
  delayed: number;
  active: number;
  completed: number;
  failed: number;
  cancelled: number;
  paused: boolean;
  groups: number;
  dependencies: number;
}

export interface AdoptRequest {
  max: number;
  priority: number;
  maxAttempts: number;
  backoffJson: string;
  timeoutMs: number | undefined;
}

export type AdoptReply = { full: true } | { full: false; ids: string[] };

function call<T>(name: ScriptName, keys: string[], args: Arg[], decode: (reply: unknown) => T): ScriptCall<T> {
  return { name, keys, args, decode };
}

/** Integers arrive as numbers, or as strings from a client with `stringNumbers`. */
function codes(reply: unknown): StatusCode[] {
  return (reply as (number | string)[]).map((code) => Number(code) as StatusCode);
}

function optional(value: number | undefined): Arg {
  return value === undefined ? '' : value;
}

// ---- producer ----

/** `partitions`: the partition count the batch was routed by (1: the queue is not partitioned). */
export function enqueue(k: QueueKeys, request: { tasks: readonly EncodedTask[]; partitions: number }): ScriptCall<EnqueueReply> {
  // A batch of bare payloads goes as just those: a ninth of the arguments to encode, send and parse.
  const payloadsOnly = request.tasks.every((task) => typeof task === 'string');
  const args: Arg[] = [`${payloadsOnly ? 'p' : 'f'}${request.partitions}`];
  if (payloadsOnly) {
    for (const task of request.tasks) args.push(task as string);
  } else {
    for (const task of request.tasks) {
      const t: TaskRecord = typeof task === 'string' ? defaultRecord(task) : task;
      args.push(t.id, t.payloadJson, t.priority, t.delayMs, optional(t.runAt), t.maxAttempts, t.backoffJson, optional(t.timeoutMs), t.dedupeKey, t.group, t.traceparent ?? '');
    }
  }
  return call('enqueue', [k.fence, k.meta], args, (reply) => {
    const values = reply as (string | number)[];
    if (Number(values[0]) === Status.QUEUE_FULL) return { full: true, maxWaiting: Number(values[1]) };
    if (Number(values[0]) === Status.LAYOUT_CHANGED) return { full: false, tasks: [], layoutChanged: Number(values[1]) };
    const tasks: { id: string; created: boolean }[] = [];
    if (payloadsOnly) {
      // `count` new tasks with consecutive generated ids from `first` (below 2^53: exact).
      const first = Number(values[1]);
      for (let n = 0; n < Number(values[2]); n++) tasks.push({ id: String(first + n) + k.idSuffix, created: true });
    } else {
      for (let i = 1; i < values.length; i += 2) tasks.push({ id: String(values[i]), created: Number(values[i + 1]) === 1 });
    }
    return { full: false, tasks };
  });
}

/** The record of a task with default options (the payloads-only form's meaning). */
function defaultRecord(payloadJson: string): TaskRecord {
  return { id: '', payloadJson, priority: 0, delayMs: 0, runAt: undefined, maxAttempts: DEFAULT_ATTEMPTS, backoffJson: '', timeoutMs: undefined, dedupeKey: '', group: '' };
}

export function counts(k: QueueKeys): ScriptCall<RawCounts> {
  return call('counts', [k.fence, k.meta], [], (reply) => {
    const [waiting = 0, delayed = 0, active = 0, completed = 0, failed = 0, cancelled = 0, paused = 0, groups = 0, dependencies = 0] = (reply as (number | string)[]).map(Number);
    return { waiting, delayed, active, completed, failed, cancelled, paused: paused === 1, groups, dependencies };
  });
}

export function setPaused(k: QueueKeys, paused: boolean): ScriptCall<void> {
  return call('set-paused', [k.fence, k.meta], [paused ? 1 : 0], () => undefined);
}

/** Writes one group's fields (GROUP_FIELDS: its own limits, its pause; '' removes one). */
export function configureGroup(k: QueueKeys, group: string, fields: readonly [string, string][]): ScriptCall<void> {
  return call('group-configure', [k.fence, k.groupLimits], [group, ...fields.flat()], () => undefined);
}

export interface GroupRow {
  name: string;
  waiting: number;
  active: number;
  /** Parked (held by a limit, or paused) until this epoch ms; Infinity: until a slot frees or it resumes. */
  parkedUntil: number | undefined;
  /** Its own fields (GROUP_FIELDS names → values). */
  own: Record<string, string>;
}

/** Groups with waiting or active tasks, largest backlog first: a page, and how many there are. */
export function listGroups(k: QueueKeys, page: { offset: number; limit: number }): ScriptCall<{ total: number; nowMs: number; groups: GroupRow[] }> {
  return call('group-list', [k.fence, k.groupState], [page.offset, page.limit], (reply) => {
    const values = reply as (string | number)[];
    const groups: GroupRow[] = [];
    for (let i = 2; i + 4 < values.length; i += 5) {
      const parked = String(values[i + 3]);
      const own: Record<string, string> = {};
      for (const pair of String(values[i + 4]).split(';').filter(Boolean)) {
        const at = pair.indexOf('=');
        own[pair.slice(0, at)] = pair.slice(at + 1);
      }
      groups.push({
        name: String(values[i]),
        waiting: Number(values[i + 1]),
        active: Number(values[i + 2]),
        parkedUntil: parked === '' ? undefined : parked === 'inf' ? Infinity : Number(parked),
        own,
      });
    }
    return { total: Number(values[0]), nowMs: Number(values[1]), groups };
  });
}

/** Writes settings fields ('' removes one); resolves with the new version. */
/**
 * Changes settings; the new version, or -1 (nothing written) when the condition fails:
 * `only` a version (the settings' is another by now) or 'unpartitioned' (the queue was
 * partitioned meanwhile). `release`: the token of a hold on `configuring`, released when
 * the change is written (no fields: only that).
 */
export function configure(k: QueueKeys, fields: readonly [string, string][], { only, release }: { only?: number | 'unpartitioned'; release?: string } = {}): ScriptCall<number> {
  const condition = only === undefined ? '' : only === 'unpartitioned' ? 'u' : String(only);
  return call('configure', [k.fence, k.settings], [condition, release ?? '', ...fields.flat()], Number);
}

function action(name: 'cancel' | 'retry' | 'remove', k: QueueKeys, id: string, args: Arg[]): ScriptCall<ActionReply> {
  return call(name, [k.fence, k.task(id)], [id, ...args], (reply) => {
    const [status, second] = reply as [number | string, (string | string[])?];
    if (Array.isArray(second)) return { status: Number(status) as StatusCode, state: undefined, children: second.map(String) };
    return { status: Number(status) as StatusCode, state: second, children: [] };
  });
}

export function cancel(k: QueueKeys, id: string): ScriptCall<ActionReply> {
  return action('cancel', k, id, []);
}

export function retry(k: QueueKeys, id: string): ScriptCall<ActionReply> {
  return action('retry', k, id, []);
}

/** `abandoned`: a node of a flow whose `add` never committed, removed without telling its parent (remove.lua). */
export function remove(k: QueueKeys, id: string, { abandoned = false }: { abandoned?: boolean } = {}): ScriptCall<ActionReply> {
  return action('remove', k, id, [abandoned ? '1' : '']);
}

export function adoptList(k: QueueKeys, listKey: string, request: AdoptRequest): ScriptCall<AdoptReply> {
  const args: Arg[] = [
    request.max,
    request.priority,
    request.maxAttempts,
    request.backoffJson,
    optional(request.timeoutMs),
  ];
  return call('adopt-list', [k.fence, k.meta, listKey], args, (reply) => {
    const values = reply as (string | number)[];
    if (Number(values[0]) === Status.QUEUE_FULL) return { full: true };
    return { full: false, ids: values.slice(1).map(String) };
  });
}

// ---- worker ----

function claimArgs(request: ClaimRequest): Arg[] {
  return [request.max, request.leaseMs];
}

function decodeClaim(reply: unknown): ClaimReply {
  const values = reply as (string | number)[];
  const tasks: ClaimedTask[] = [];
  for (let i = 4; i + 11 < values.length; i += 12) {
    tasks.push({
      id: String(values[i]),
      token: String(values[i + 1]),
      attempt: Number(values[i + 2]),
      maxAttempts: Number(values[i + 3]),
      payloadJson: String(values[i + 4]),
      backoffJson: values[i + 5] ? String(values[i + 5]) : '',
      timeoutMs: values[i + 6] ? Number(values[i + 6]) : undefined,
      createdAt: Number(values[i + 7]),
      group: String(values[i + 8]),
      traceparent: String(values[i + 9]),
      parent: String(values[i + 10]),
      chained: String(values[i + 11]).includes('c'),
      hasChildren: String(values[i + 11]).includes('p'),
    });
  }
  return { dueInMs: Number(values[0]), paused: Number(values[1]) === 1, schedulesToRefill: Number(values[2] ?? 0), scheduleDueInMs: Number(values[3] ?? -1), tasks };
}

export function claim(k: QueueKeys, request: ClaimRequest): ScriptCall<ClaimReply> {
  return call('claim', [k.fence, k.meta], claimArgs(request), decodeClaim);
}

function finishedArgs(finished: readonly FinishedTask[]): Arg[] {
  const args: Arg[] = [];
  for (const task of finished) args.push(task.id, task.token, task.resultJson);
  return args;
}

/**
 * A completion's answer for one task: a flow child's negative code is OK, having left
 * notice number -code for its parent (complete.lua); undefined for any other task.
 */
export function noticeNumber(code: number): number | undefined {
  return code < 0 ? -code : undefined;
}

/** Statuses: OK, or LEASE_LOST (the write changed nothing); a flow child's: see noticeNumber. */
export function complete(k: QueueKeys, request: { finished: readonly FinishedTask[] }): ScriptCall<StatusCode[]> {
  return call('complete', [k.fence, k.meta], finishedArgs(request.finished), codes);
}

export function completeAndClaim(
  k: QueueKeys,
  request: { finished: readonly FinishedTask[]; claim: ClaimRequest },
): ScriptCall<{ statuses: StatusCode[]; claim: ClaimReply }> {
  const args = [...claimArgs(request.claim), ...finishedArgs(request.finished)];
  return call('complete-claim', [k.fence, k.meta], args, (reply) => {
    const [statuses, claimed] = reply as [unknown, unknown];
    return { statuses: codes(statuses), claim: decodeClaim(claimed) };
  });
}

/** Statuses: OK (retry scheduled), DEAD_LETTERED, or LEASE_LOST. */
export function fail(k: QueueKeys, request: { attempts: readonly FailedAttempt[] }): ScriptCall<StatusCode[]> {
  const args: Arg[] = [];
  for (const a of request.attempts) args.push(a.id, a.token, a.errorJson, a.retryDelayMs);
  return call('fail', [k.fence, k.meta], args, codes);
}

/** The ids whose lease is lost. */
export function extend(
  k: QueueKeys,
  request: { leaseMs: number; workerId: string; descriptionJson: string; leases: readonly HeldLease[] },
): ScriptCall<string[]> {
  const args: Arg[] = [request.leaseMs, request.workerId, request.descriptionJson];
  for (const lease of request.leases) args.push(lease.id, lease.token);
  return call('extend', [k.fence, k.workers], args, (reply) => (reply as unknown[]).map(String));
}

/** How many leases were reaped. */
export function reap(k: QueueKeys, request: { max: number }): ScriptCall<number> {
  return call('reap', [k.fence, k.active], [request.max], Number);
}

/**
 * Handlers hit an upstream limit: their tasks go back in line without using an attempt,
 * and their queue (scope 'queue') or group ('group') claims nothing for `delayMs`.
 * Statuses: OK, or LEASE_LOST.
 */
export function defer(k: QueueKeys, request: { scope: 'queue' | 'group'; delayMs: number; leases: readonly HeldLease[] }): ScriptCall<StatusCode[]> {
  const args: Arg[] = [request.scope, request.delayMs];
  for (const lease of request.leases) args.push(lease.id, lease.token);
  return call('defer', [k.fence, k.meta], args, codes);
}

/** Statuses: OK (released) or LEASE_LOST. */
export function release(k: QueueKeys, leases: readonly HeldLease[]): ScriptCall<StatusCode[]> {
  const args: Arg[] = [];
  for (const lease of leases) args.push(lease.id, lease.token);
  return call('release', [k.fence, k.active], args, codes);
}

/** A handler's latest progress, as JSON, for one of the worker's leases. */
export interface ProgressNote extends HeldLease {
  json: string;
}

/** Statuses: OK, or LEASE_LOST (nothing written). `notes` must not be empty. */
export function progress(k: QueueKeys, notes: readonly ProgressNote[]): ScriptCall<StatusCode[]> {
  const args: Arg[] = [];
  for (const note of notes) args.push(note.id, note.token, note.json);
  return call('progress', [k.fence, k.task(notes[0]!.id)], args, codes);
}

/** Log lines of one lease, logged since the last flush. */
export interface LogBatch extends HeldLease {
  /** Lines the worker dropped before sending (more than a log keeps, between two flushes). */
  dropped: number;
  /** Each line's text, and how many ms before the call it was logged. */
  lines: readonly { ageMs: number; text: string }[];
}

/** Statuses: OK, or LEASE_LOST (nothing written). `batches` must not be empty. */
export function appendLogs(k: QueueKeys, request: { maxLines: number; maxBytes: number; batches: readonly LogBatch[] }): ScriptCall<StatusCode[]> {
  const args: Arg[] = [request.maxLines, request.maxBytes];
  for (const batch of request.batches) {
    args.push(batch.id, batch.token, batch.lines.length, batch.dropped);
    for (const line of batch.lines) args.push(line.ageMs, line.text);
  }
  return call('task-log', [k.fence, k.task(request.batches[0]!.id)], args, codes);
}
