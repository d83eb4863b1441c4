/**
 * The one place that builds Redis key names and task-hash field names.
 *
 * Every key of a queue shares the hash tag `{<queue>}`, so each script touches one slot and a
 * Redis Cluster can host many queues. Each queue (and topic) has a *fence*: a key in its
 * slot that never exists. Every script declares it first; the scripts build the other keys
 * they touch from it (the generated Lua prelude gets the role names from this file), so
 * they are provably in its slot, and while the slot migrates Redis refuses the call
 * (ASK/TRYAGAIN) before it starts instead of running it half on each node.
 * `docs/redis-layout.md` lists the same keys and fields; a test fails when the two disagree.
 */

/** Task hash fields. Short names because every retained task carries them; see the docs. */
export const TASK_FIELDS = Object.freeze({
  state: 's',
  payload: 'p',
  attempt: 'a',
  priorAttempts: 'pa',
  maxAttempts: 'm',
  priority: 'pr',
  backoff: 'b',
  timeoutMs: 'to',
  dedupeKey: 'dk',
  group: 'g',
  groupSlot: 'gs',
  createdAt: 'c',
  runAt: 'ra',
  startedAt: 'st',
  finishedAt: 'f',
  result: 'r',
  error: 'e',
  history: 'h',
  progress: 'pg',
  logBytes: 'lb',
  logsDropped: 'ld',
  traceparent: 'tp',
  parent: 'pt',
  root: 'rt',
  pending: 'pn',
  childPolicy: 'cp',
  chained: 'ch',
  failedBy: 'fb',
  noticeSeq: 'nv',
  retrying: 'rr',
} as const);

export type TaskField = keyof typeof TASK_FIELDS;

/**
 * How each task state is stored in a task hash: one letter, since every retained task has
 * one. The states themselves (their order, which are final) belong to the queue layer
 * (src/queue/states.ts).
 */
export const STATE_CODES = Object.freeze({
  waiting: 'w',
  delayed: 'd',
  active: 'a',
  completed: 'c',
  failed: 'f',
  cancelled: 'x',
  dependencies: 'n',
} as const);

/**
 * Fields of a queue's `meta` hash: the id counter, the paused flag, until when a handler's
 * RateLimitedError holds the queue (epoch ms), how many grouped tasks wait, when the
 * earliest schedule slot falls due (epoch ms) and how many schedules wait for slots to be
 * computed, lifetime counters.
 */
export const META_FIELDS = Object.freeze({
  seq: 'seq',
  paused: 'paused',
  limitedUntil: 'limitedUntil',
  grouped: 'grouped',
  ownTurn: 'ownTurn',
  scheduleDue: 'scheduleDue',
  scheduleRefill: 'scheduleRefill',
  enqueued: 'enqueued',
  completed: 'completed',
  failed: 'failed',
} as const);

/**
 * Fields of a queue's `settings` hash (its queue-wide settings, one owner: Redis; see
 * src/queue/settings.ts). Absent fields take their defaults.
 */
export const SETTINGS_FIELDS = Object.freeze({
  version: 'version',
  maxWaiting: 'maxWaiting',
  completedCount: 'completed.count',
  completedMaxAgeMs: 'completed.maxAgeMs',
  failedCount: 'failed.count',
  failedMaxAgeMs: 'failed.maxAgeMs',
  rateMax: 'rateLimit.max',
  ratePerMs: 'rateLimit.perMs',
  concurrency: 'concurrency',
  groupConcurrency: 'groups.concurrency',
  groupRateMax: 'groups.rateLimit.max',
  groupRatePerMs: 'groups.rateLimit.perMs',
  partitions: 'partitions',
  partitionLanes: 'partitions.lanes',
  partitionLogical: 'partitions.logical',
} as const);

/**
 * Fields of a queue's `glimits` hash, per group: `<group>|<field>`. The limits a group has
 * besides the queue's defaults for every group, its pause, and until when a handler's
 * RateLimitedError (scope 'group') holds it (epoch ms).
 */
export const GROUP_FIELDS = Object.freeze({
  concurrency: 'concurrency',
  rateMax: 'rateLimit.max',
  ratePerMs: 'rateLimit.perMs',
  paused: 'paused',
  limitedUntil: 'limitedUntil',
} as const);

/**
 * Fields of a schedule's hash (`schedule:<id>`): its definition as given (`def`, JSON, and
 * its digest), what the scripts need of it (kind `c` cron or `e` every, the period and
 * anchor of an every-schedule, catch-up rule, end, run limit, the task's encoded fields),
 * and its state (next slot, last slot run and its task, runs, paused, ended).
 */
export const SCHEDULE_FIELDS = Object.freeze({
  def: 'def',
  digest: 'digest',
  kind: 'kind',
  everyMs: 'everyMs',
  anchor: 'anchor',
  catchUp: 'catchUp',
  maxCatchUp: 'maxCatchUp',
  missedAfterMs: 'missedAfterMs',
  endAt: 'endAt',
  limit: 'limit',
  payload: 'payload',
  priority: 'priority',
  maxAttempts: 'maxAttempts',
  backoff: 'backoff',
  timeoutMs: 'timeoutMs',
  group: 'group',
  next: 'next',
  last: 'last',
  lastTask: 'lastTask',
  lastRunAt: 'lastRunAt',
  runs: 'runs',
  paused: 'paused',
  ended: 'ended',
  createdAt: 'createdAt',
  updatedAt: 'updatedAt',
} as const);

/** A schedule run's task id: `<prefix><schedule id>:<slot, epoch ms>` (run now: `...:now:<ms>`). */
export const SCHEDULE_RUN_PREFIX = 'sched:';
/** Listed after a cron schedule's last slot in `sslots:<id>` (its endAt, or a pattern that matches no more). */
export const CRON_END = 'end';
/** A cron schedule with fewer slots than this listed ahead asks for more (`srefill`). */
export const SCHEDULE_SLOTS_LOW = 20;

/** The one member of a queue's `wake` zset (the marker idle workers block on). */
export const WAKE_MEMBER = 'w';

/** What a partition's name and its generated ids carry: `<queue>~<n>`, `<generated id>~<n>`. */
export const PARTITION_MARK = '~';

/** Key roles of one queue (`<role>` after `<prefix>:{<queue>}:`), with the Redis type each holds (the layout doc's first columns). */
export const QUEUE_KEY_ROLES = Object.freeze({
  fence: 'none',
  'task:<id>': 'hash',
  'waiting:<priority>': 'list',
  priorities: 'zset',
  delayed: 'zset',
  active: 'zset',
  completed: 'list',
  failed: 'list',
  cancelled: 'list',
  'dedupe:<key>': 'string',
  meta: 'hash',
  'stats:<hour>': 'hash',
  wake: 'zset',
  workers: 'hash',
  settings: 'hash',
  configuring: 'string',
  rate: 'zset',
  'gwaiting:<group>:<priority>': 'list',
  'gpriorities:<group>': 'zset',
  groups: 'list',
  gstate: 'hash',
  gparked: 'zset',
  gactive: 'hash',
  glimits: 'hash',
  'grate:<group>': 'zset',
  'schedule:<id>': 'hash',
  schedules: 'zset',
  'sslots:<id>': 'list',
  srefill: 'set',
  'logs:<id>': 'list',
  dependencies: 'zset',
  held: 'zset',
  'deps:<id>': 'hash',
  notices: 'hash',
  events: 'channel',
  progress: 'channel',
} as const);

/** Keys outside any queue's hash tag. */
export const GLOBAL_KEY_ROLES = Object.freeze({
  queues: 'set',
  topics: 'set',
} as const);

/** Key roles of one durable topic (`<role>` after `<prefix>:topic:{<topic>}:`), with the Redis type each holds. */
export const TOPIC_KEY_ROLES = Object.freeze({
  fence: 'none',
  stream: 'stream',
  dead: 'list',
  errors: 'hash',
  'stats:<hour>': 'hash',
} as const);

/** The stream entry field that holds a topic message's JSON. */
export const TOPIC_MESSAGE_FIELD = 'm';
/** The stream entry field that holds the publisher's trace context (W3C traceparent), when it had one. */
export const TOPIC_TRACE_FIELD = 'tp';

/** What a role's name contributes to a key: `task:<id>` → `task:` (the id follows), `meta` → `meta`. */
function suffixOf(role: string): string {
  const at = role.indexOf('<');
  return at < 0 ? role : role.slice(0, at);
}

/**
 * Every role's suffix by its Lua name (`task` → `task:`), for the scripts' prelude: the
 * scripts build keys as `base .. R.<name> .. part` and never spell a role themselves.
 */
export function keyRoleSuffixes(): Record<string, string> {
  const suffixes: Record<string, string> = {};
  for (const role of [...Object.keys(QUEUE_KEY_ROLES), ...Object.keys(TOPIC_KEY_ROLES)]) {
    const suffix = suffixOf(role);
    const name = suffix.replace(/:$/, '');
    if (suffixes[name] !== undefined && suffixes[name] !== suffix) throw new Error(`key role ${name} has two suffixes`);
    suffixes[name] = suffix;
  }
  return suffixes;
}

/**
 * Builds the keys of one queue: `<prefix>:{<queue>}:<role>`. A partition of a partitioned
 * queue (src/queue/partitions.ts) is a queue layout of its own, named `<queue>~<n>` (or
 * `<queue>~<n>.<placement>` on a cluster): `~` is in no queue name, so no queue takes it.
 */
export class QueueKeys {
  /** Everything up to the role. */
  readonly base: string;
  /** What generated ids of this layout end with: its partition's `~<n>...`, or '' (the queue itself). */
  readonly idSuffix: string;

  constructor(
    readonly prefix: string,
    readonly queue: string,
  ) {
    this.base = `${prefix}:{${queue}}:`;
    const at = queue.indexOf(PARTITION_MARK);
    this.idSuffix = at < 0 ? '' : queue.slice(at);
  }

  /** Never exists: declared first by every script of the queue (see the top of this file). */
  get fence(): string {
    return `${this.base}fence`;
  }
  task(id: string): string {
    return `${this.base}task:${id}`;
  }
  waiting(priority: number | string): string {
    return `${this.base}waiting:${priority}`;
  }
  dedupe(key: string): string {
    return `${this.base}dedupe:${key}`;
  }
  get priorities(): string {
    return `${this.base}priorities`;
  }
  get delayed(): string {
    return `${this.base}delayed`;
  }
  get active(): string {
    return `${this.base}active`;
  }
  get completed(): string {
    return `${this.base}completed`;
  }
  get failed(): string {
    return `${this.base}failed`;
  }
  get cancelled(): string {
    return `${this.base}cancelled`;
  }
  get meta(): string {
    return `${this.base}meta`;
  }
  get wake(): string {
    return `${this.base}wake`;
  }
  /** Per-minute finished counts of one hour (`hour` = epoch ms / 3,600,000, floored). */
  stats(hour: number): string {
    return `${this.base}stats:${hour}`;
  }
  get workers(): string {
    return `${this.base}workers`;
  }
  /** The queue's settings (SETTINGS_FIELDS): read by the scripts that enforce them. */
  get settings(): string {
    return `${this.base}settings`;
  }
  /** Held while a partitioned queue's settings change is applied (its token; expires): one change at a time. */
  get configuring(): string {
    return `${this.base}configuring`;
  }
  /** Starts within the rate limit's window: one member per start, scored by its time. */
  get rate(): string {
    return `${this.base}rate`;
  }
  /** A group's ready tasks at one priority level (like `waiting:<priority>`). */
  groupWaiting(group: string, priority: number | string): string {
    return `${this.base}gwaiting:${group}:${priority}`;
  }
  /** A group's non-empty priority levels, scored -priority. */
  groupPriorities(group: string): string {
    return `${this.base}gpriorities:${group}`;
  }
  /** The rotation of groups with ready tasks: claims take the next from the right, and put it back on the left. */
  get groups(): string {
    return `${this.base}groups`;
  }
  /** Per group with ready tasks: its highest ready priority level; `p` and the level while it is parked. */
  get groupState(): string {
    return `${this.base}gstate`;
  }
  /** Parked groups (held by a limit, or paused), scored by when to look again (inf: when a slot frees, or on resume). */
  get groupsParked(): string {
    return `${this.base}gparked`;
  }
  /** Per group: its tasks active now that hold one of its concurrency slots. */
  get groupActive(): string {
    return `${this.base}gactive`;
  }
  /** Per-group limits, pauses and holds: `<group>|<GROUP_FIELDS field>`. */
  get groupLimits(): string {
    return `${this.base}glimits`;
  }
  /** A group's rate limit log, like `rate`. */
  groupRate(group: string): string {
    return `${this.base}grate:${group}`;
  }
  /** One schedule: its definition and state (SCHEDULE_FIELDS). */
  schedule(id: string): string {
    return `${this.base}schedule:${id}`;
  }
  /** Every schedule's id, scored by its next slot (epoch ms; inf while paused, ended or waiting for slots). */
  get schedules(): string {
    return `${this.base}schedules`;
  }
  /** A cron schedule's slots computed ahead, after its next one (epoch ms, ascending). */
  scheduleSlots(id: string): string {
    return `${this.base}sslots:${id}`;
  }
  /** Cron schedules whose slots run low (or out): a worker computes more. */
  get scheduleRefill(): string {
    return `${this.base}srefill`;
  }
  /** A task's log lines, oldest first (`<epoch ms>|<attempt>|<text>` each); deleted with the task. */
  logs(id: string): string {
    return `${this.base}logs:${id}`;
  }
  /** Tasks in the `dependencies` state (flow parents waiting for children, flow nodes not yet released), scored by creation time. */
  get dependencies(): string {
    return `${this.base}dependencies`;
  }
  /** Flow leaves written but not released yet (an `add` under way, or cut short), scored by creation time: what the sweep looks at. */
  get held(): string {
    return `${this.base}held`;
  }
  /** A flow parent's children: `<queue>|<id>` → '' while pending, else its outcome (state code, then result or error JSON). */
  deps(id: string): string {
    return `${this.base}deps:${id}`;
  }
  /** Outcomes of this queue's flow children not yet applied to their parents: child id → `<parent queue>|<parent id>|<outcome>`. */
  get notices(): string {
    return `${this.base}notices`;
  }
  /**
   * Pub/sub channel of outcomes (`<state>|<id>,<id>...` for completed, failed, cancelled and
   * removed tasks); not a key. Result waiters listen here only. On a cluster, a shard
   * channel (SPUBLISH): it stays on the queue's shard.
   */
  get events(): string {
    return `${this.base}events`;
  }
  /** Pub/sub channel of the other state changes (waiting, delayed, active), progress and log lines; for task watchers. */
  get progress(): string {
    return `${this.base}progress`;
  }
}

/** The set of queue names known under a prefix (written on first use of a queue). */
export function queuesKey(prefix: string): string {
  return `${prefix}:queues`;
}

// ---- Broadcast: durable topics and live channels ----------------------------------------------

/**
 * Builds the keys of one topic: `<prefix>:topic:{<topic>}:<role>`. The hash tag keeps a
 * topic's stream, dead letters and error notes in one slot, so each script touches one.
 */
export class TopicKeys {
  readonly base: string;

  constructor(
    readonly prefix: string,
    readonly topic: string,
  ) {
    this.base = `${prefix}:topic:{${topic}}:`;
  }

  /** Never exists: declared first by every topic script (see the top of this file). */
  get fence(): string {
    return `${this.base}fence`;
  }
  /** The stream of messages; one consumer group per subscriber group. */
  get stream(): string {
    return `${this.base}stream`;
  }
  /** Dead letters, newest first: messages that failed every attempt, with their errors. */
  get dead(): string {
    return `${this.base}dead`;
  }
  /** The last error of messages that failed and wait for another attempt (`<group>|<id>`). */
  get errors(): string {
    return `${this.base}errors`;
  }
  /** Messages published per minute of one hour (`hour` = epoch ms / 3,600,000, floored). */
  stats(hour: number): string {
    return `${this.base}stats:${hour}`;
  }
}

/** The set of topic names known under a prefix (written on first use of a topic). */
export function topicsKey(prefix: string): string {
  return `${prefix}:topics`;
}

/** The Redis channel of a live (non-raw) channel or pattern: `<prefix>:ch:<name>`; not a key. */
export function channelName(prefix: string, name: string): string {
  return `${prefix}:ch:${name}`;
}

// ---- The HTTP gateway's shared auth state --------------------------------------------------

/** Gateway key roles under a prefix, with the Redis type each holds. */
export const GATEWAY_KEY_ROLES = Object.freeze({
  'gateway:sessions': 'hash',
  'gateway:auth-failures:<address>': 'string',
} as const);

/**
 * Session generation per token name: a dashboard session carries the generation it was
 * issued in, and is accepted only while it is the current one (logout increments it).
 */
export function sessionGenerationsKey(prefix: string): string {
  return `${prefix}:gateway:sessions`;
}

/** What the failed-authentication counters' keys start with; the client address follows. */
export function authFailuresKeyPrefix(prefix: string): string {
  return `${prefix}:gateway:auth-failures:`;
}
