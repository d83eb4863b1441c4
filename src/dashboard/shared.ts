/**
 * The dashboard's wire format: the shapes of the UI API's answers and event-stream
 * snapshots, and the constants both sides use. Imported by the server (src/dashboard/*.ts)
 * and bundled into the browser client (src/dashboard/client/), so it imports nothing.
 */

export const TASK_STATES = ['waiting', 'delayed', 'active', 'completed', 'failed', 'cancelled', 'dependencies'] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** Header carrying the session's CSRF token on every state-changing UI call. */
export const CSRF_HEADER = 'x-errand-csrf';
/** Where the UI's JSON API and event streams live. */
export const API_BASE = '/ui/api';
export const LOGIN_PATH = '/ui/login';
/** Tasks per page in the queue view. */
export const PAGE_SIZE = 25;
/** Characters of a payload or error shown in lists; the task page shows everything. */
export const PREVIEW_CHARS = 200;

/** GET /ui/api/session: what the client needs before it renders anything. */
export interface SessionInfo {
  csrf: string;
  /** Whether the gateway has a token (and so a login and a logout). */
  auth: boolean;
  /** The demo's queue and channel when the gateway serves the demo. */
  demo: { queue: string; channel: string } | null;
  /** Most tasks one payload search reads. */
  searchScanLimit: number;
}

export interface Counts {
  waiting: number;
  delayed: number;
  active: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Flow parents waiting for their children (src/flows). */
  dependencies: number;
}

/** Tasks finished in one minute (`minute` = epoch ms / 60,000, floored; Redis clock). */
export interface MinutePoint {
  minute: number;
  completed: number;
  failed: number;
}

export interface HourTotals {
  completed: number;
  failed: number;
}

export interface QueueRow extends Counts {
  name: string;
  paused: boolean;
  lastHour: HourTotals;
}

/** The overview stream's snapshot. */
export interface OverviewSnapshot {
  queues: QueueRow[];
  /** Counts summed over every queue. */
  totals: Counts;
  lastHour: HourTotals;
  /** Completed and failed per minute over the last hour, summed over every queue, oldest first. */
  throughput: MinutePoint[];
}

/** The queue stream's snapshot. */
export interface QueueSnapshot {
  name: string;
  /** False for a name nothing ever used under this prefix (a typo, or another prefix's queue). */
  known: boolean;
  counts: Counts;
  paused: boolean;
  /** Since the queue was first used. */
  lifetime: { enqueued: number; completed: number; failed: number };
  lastHour: HourTotals;
  throughput: MinutePoint[];
  workers: number;
  /** Groups with waiting tasks. */
  groups: number;
  /** A partitioned queue's partitions, each with its counts (`counts` are their sums). */
  partitions?: PartitionRow[];
}

/** One partition of a partitioned queue on the queue page. */
export interface PartitionRow extends Counts {
  partition: number;
  /** New tasks go there (false: being drained after the partition count was lowered). */
  routed: boolean;
  paused: boolean;
}

export interface WorkerRow {
  id: string;
  queue: string;
  host: string;
  pid: number;
  concurrency: number;
  running: number;
  tasks: string[];
  leaseMs: number;
  startedAt: number;
  heartbeatAt: number;
}

/** The workers stream's snapshot; `now` is the gateway's clock, to age heartbeats. */
export interface WorkersSnapshot {
  workers: WorkerRow[];
  now: number;
}

/** A task as lists show it: payload and error cut to PREVIEW_CHARS. */
export interface TaskSummary {
  id: string;
  state: TaskState;
  payload: string;
  attempt: number;
  maxAttempts: number;
  priority: number;
  createdAt: number;
  runAt?: number;
  finishedAt?: number;
  error?: string;
  worker?: string;
}

export interface TaskPage {
  state: TaskState;
  offset: number;
  limit: number;
  tasks: TaskSummary[];
}

export interface TaskErrorInfo {
  name: string;
  message: string;
  stack?: string;
}

/** Everything stored about a task (GET /ui/api/queues/:queue/tasks/:id and its stream). */
export interface TaskDetail {
  id: string;
  queue: string;
  state: TaskState;
  payload: unknown;
  attempt: number;
  maxAttempts: number;
  priority: number;
  createdAt: number;
  runAt?: number;
  startedAt?: number;
  finishedAt?: number;
  result?: unknown;
  error?: TaskErrorInfo;
  attempts: { attempt: number; startedAt: number | null; finishedAt: number; error: TaskErrorInfo }[];
  worker?: string;
  dedupeKey?: string;
  backoff?: unknown;
  timeoutMs?: number;
  /** The latest progress its latest attempt reported: a bar for a number 0-100, JSON otherwise. */
  progress?: unknown;
}

/** A flow node as the task page draws it: its state, its parent, its children (src/flows). */
export interface FlowNodeView {
  queue: string;
  id: string;
  /** 'pending': a child whose task is gone before it finished. */
  state: TaskState | 'pending';
  parent?: { queue: string; id: string };
  children: FlowNodeView[];
}

/** A batch of a task's log lines, as the task stream's `logs` events carry them (after the lines shown, oldest first). */
export interface TaskLogBatch {
  /** Lines dropped just before these (a task's log keeps its last 1,000 lines and 64 KiB). */
  dropped: number;
  lines: { at: number; attempt: number; message: string }[];
}

export interface SearchAnswer {
  text: string;
  byId: TaskSummary | null;
  matches: TaskSummary[];
  scanned: number;
  scanLimit: number;
  stoppedBy: 'end' | 'scanLimit' | 'maxMatches';
}

/** Answer of a task action (retry, cancel, remove). */
export interface ActionAnswer {
  id: string;
  /** The task's state after the action, or 'removed'. */
  state: TaskState | 'removed';
}

export interface ErrorBody {
  error: { code: string; message: string };
  /** A refused settings change: what is wrong with each field, by its path (`rateLimit.max`). */
  fields?: Record<string, string>;
}

// ---- Flow control ------------------------------------------------------------------------

export interface RateLimitView {
  max: number;
  perMs: number;
}

/** GET /ui/api/queues/:queue/settings, and the answer of a change (POST, admin). */
export interface SettingsView {
  version: number;
  maxWaiting: number | null;
  retention: { completed: { count: number; maxAgeMs: number }; failed: { count: number; maxAgeMs: number } };
  rateLimit: RateLimitView | null;
  concurrency: number | null;
  groups: { concurrency: number | null; rateLimit: RateLimitView | null };
  /** Partitions new tasks spread over (1: not partitioned). */
  partitions: number;
}

/** Groups listed per page on the queue page. */
export const GROUPS_PAGE_SIZE = 10;

export interface GroupRow {
  name: string;
  waiting: number;
  active: number;
  paused: boolean;
  /** Held by a limit or a handler's RateLimitedError until this epoch ms. */
  heldUntil?: number;
  /** The group's own limits; one left out is the queue's default for every group. */
  limits: { concurrency?: number; rateLimit?: RateLimitView };
}

/** GET /ui/api/queues/:queue/groups: largest backlog first. */
export interface GroupPage {
  total: number;
  offset: number;
  groups: GroupRow[];
}

// ---- Schedules ----------------------------------------------------------------------------

/** A schedule as the schedules page shows it. */
export interface ScheduleRow {
  queue: string;
  id: string;
  /** `cron 0 3 * * * (Europe/Berlin)` or `every 30 s`. */
  cadence: string;
  /** The runs' payload as JSON, cut to PREVIEW_CHARS. */
  payload: string;
  catchUp: string;
  state: 'active' | 'paused' | 'ended';
  nextRunAt: number | null;
  lastRunAt: number | null;
  lastTaskId: string | null;
  runs: number;
  /** How late its due slot is (ms; 0 when none is due). */
  lagMs: number;
}

/** The schedules stream's snapshot; `now` is the Redis clock. */
export interface SchedulesSnapshot {
  schedules: ScheduleRow[];
  now: number;
}

// ---- Channels and topics ------------------------------------------------------------------

/** Minutes of publish history a topic row carries (its rate chart). */
export const RATE_MINUTES = 60;
/** Newest dead letters shown per topic. */
export const DEAD_LETTERS_SHOWN = 5;

export interface TopicGroupRow {
  name: string;
  members: number;
  pending: number;
  /** Retained messages the group has not read yet; null when Redis cannot tell. */
  lag: number | null;
  lastDeliveredId: string;
}

/** A dead letter as the page lists it: error and message cut to PREVIEW_CHARS. */
export interface DeadLetterRow {
  id: string;
  group: string;
  attempts: number;
  failedAt: number;
  /** `<name>: <message>` of the last error. */
  error: string;
  /** The message's JSON. */
  message: string;
}

export interface TopicRow {
  name: string;
  length: number;
  published: number;
  deadLetters: number;
  groups: TopicGroupRow[];
  /** Messages published per minute, oldest first: RATE_MINUTES of them, from `firstMinute` (epoch minute, Redis clock). */
  rate: { firstMinute: number; perMinute: number[] };
  /** The newest DEAD_LETTERS_SHOWN dead letters. */
  recentDeadLetters: DeadLetterRow[];
}

export interface ChannelRow {
  name: string;
  raw: boolean;
  subscribers: number;
}

/** The broadcast stream's snapshot: every topic, and the live channels with subscribers now. */
export interface BroadcastSnapshot {
  topics: TopicRow[];
  channels: ChannelRow[];
  /** Channels with subscribers in all (more than `channels` past the gateway's limit). */
  channelsTotal: number;
  /** Pattern subscriptions on the server. */
  patterns: number;
  /** On a Redis Cluster, a node did not answer: the counts are lower bounds. */
  partial: boolean;
}

/** POST /ui/api/publish: a test message, as typed into the form. */
export type PublishRequest =
  | { target: 'channel'; name: string; raw: boolean; format: 'json' | 'text'; text: string }
  | { target: 'topic'; name: string; format: 'json' | 'text'; text: string };

export type PublishAnswer =
  | { target: 'channel'; name: string; raw: boolean; receivers: number }
  | { target: 'topic'; name: string; id: string };
