/**
 * Option schemas and their defaults, in one place. Every duration and size carries its unit
 * in its name (`leaseMs`, `maxPayloadBytes`). Unknown or mistyped options are rejected with a
 * ValidationError naming each problem; resolved options are frozen.
 */
import { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { ValidationError } from './errors.js';

export const DEFAULT_PREFIX = 'errand';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * Names of queues, channels, topics and groups: safe in keys, URLs and HTML attributes
 * (`.` and `..` alone are not: URLs read them as path steps).
 */
export const NAME_PATTERN = /^(?!\.\.?$)[A-Za-z0-9._-]{1,128}$/;
const nameRule = 'use 1-128 characters from A-Z a-z 0-9 . _ -';

/** The longest delay a Node timer keeps (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A caller-chosen task id: like a name, plus ':'; not all digits (those are generated ids). */
/** A task id: a caller's (1-128 of these characters), or a generated one, with a partitioned queue's partition mark (`~3`, `~3.17`). */
export const TASK_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}(~\d{1,3}(\.\d{1,6})?)?$/;

export function validateName(kind: string, name: unknown): string {
  if (name === '.' || name === '..') {
    throw new ValidationError(`invalid ${kind} name ${JSON.stringify(name)}: "." and ".." alone read as path steps in URLs (the dashboard could not open it); ${nameRule}`);
  }
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new ValidationError(`invalid ${kind} name ${JSON.stringify(name)}: ${nameRule}`);
  }
  return name;
}

export function validateTaskId(id: unknown): string {
  if (typeof id !== 'string' || !TASK_ID_PATTERN.test(id)) {
    throw new ValidationError(`invalid task id ${JSON.stringify(id)}: use 1-128 characters from A-Z a-z 0-9 . _ : -`);
  }
  return id;
}

// ---- Connection ---------------------------------------------------------------------------

/**
 * Where Redis is: a URL (`redis://host:port/db`, `rediss://` for TLS, `redis+cluster://` for a
 * Cluster, `redis+sentinel://` for a Sentinel-managed master; `?failoverMs=` sets how long a
 * call rides through a failover; see src/redis/connection-url.ts), an ioredis client or
 * Cluster (used as is and not closed by Errand; blocking connections are duplicated from
 * it), or ioredis options. Default: `REDIS_URL` from the environment, else 127.0.0.1:6379.
 */
export type ConnectionOption = string | Redis | Cluster | Record<string, unknown>;

export const connectionSchema = z.union([
  z.string().regex(/^(rediss?|redis\+cluster|redis\+sentinel):\/\//, 'a Redis URL starts with redis://, rediss://, redis+cluster:// or redis+sentinel://'),
  z.instanceof(Redis),
  z.instanceof(Cluster),
  z.looseObject({}),
]);

export const prefixSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'a prefix uses 1-64 characters from A-Z a-z 0-9 . _ -');

/** Options every Errand object takes: where Redis is and the key prefix. */
export const baseShape = {
  connection: connectionSchema.optional(),
  /** First part of every key. Default 'errand'. */
  prefix: prefixSchema.default(DEFAULT_PREFIX),
};

// ---- Task options -------------------------------------------------------------------------

const MAX_PRIORITY = 1_000_000;

const backoffSchema = z
  .object({
    type: z.enum(['fixed', 'exponential']),
    /** Fixed: the wait before each retry. Exponential: the first wait, doubled each retry. */
    delayMs: z.number().int().min(0).max(2 ** 31),
    /** Upper bound of any wait. Default: one hour. */
    maxDelayMs: z.number().int().min(0).max(2 ** 31).optional(),
    /** 0-1: the share of each wait that is randomized, to spread retries out. Default 0. */
    jitter: z.number().min(0).max(1).optional(),
  })
  .strict();

export type BackoffOptions = z.input<typeof backoffSchema>;

/** The fields of task options, shared with the gateway's request schemas. */
export const taskOptionsShape = {
  /** Start no earlier than this many ms from now (Redis server clock). */
  delayMs: z.number().int().min(0).max(2 ** 40).optional(),
  /** Start no earlier than this time (a Date or epoch ms). */
  runAt: z.union([z.date(), z.number().int().min(0)]).optional(),
  /** Higher runs first; FIFO within one priority. Integer in ±1,000,000. Default 0. */
  priority: z.number().int().min(-MAX_PRIORITY).max(MAX_PRIORITY).optional(),
  /** Total runs allowed, the first included. Default 3. */
  attempts: z.number().int().min(1).max(10_000).optional(),
  /** Wait between attempts. Default: exponential from 1 s, up to 1 h, jitter 0.2. */
  backoff: backoffSchema.optional(),
  /** Abort the handler's signal and fail the attempt after this many ms (at most 2^31 - 1, a timer's limit). Default: none. */
  timeoutMs: z.number().int().min(1).max(MAX_TIMER_MS).optional(),
  /** While a task with this key is not finished, enqueues with the same key return it. */
  dedupeKey: z.string().min(1).max(256).optional(),
  /** Caller-chosen id; an enqueue with the id of an existing task returns that task. */
  id: z.string().optional(),
  /**
   * The task's group (a tenant, a customer): claims rotate over groups with ready tasks, so
   * one group's backlog cannot starve another's, and each group may have its own limits.
   */
  group: z.string().regex(NAME_PATTERN, 'a group name uses 1-128 characters from A-Z a-z 0-9 . _ -').optional(),
};

const taskOptionsSchema = z.object(taskOptionsShape).strict();
export type TaskOptions = z.input<typeof taskOptionsSchema>;

/** Task options a queue (or a bridge) applies to every task it creates. */
export const defaultTaskOptionsSchema = z
  .object({
    attempts: taskOptionsShape.attempts,
    backoff: taskOptionsShape.backoff,
    timeoutMs: taskOptionsShape.timeoutMs,
    priority: taskOptionsShape.priority,
  })
  .strict();

export const DEFAULT_BACKOFF = Object.freeze({
  type: 'exponential',
  delayMs: 1_000,
  maxDelayMs: 3_600_000,
  jitter: 0.2,
} as const);
export const DEFAULT_ATTEMPTS = 3;

// ---- Retention (a queue setting: src/queue/settings.ts) ---------------------------------------

/** How long finished tasks stay readable unless the queue's settings say otherwise. */
export const DEFAULT_RETENTION = Object.freeze({
  completed: Object.freeze({ count: 1_000, maxAgeMs: 24 * 3_600_000 }),
  failed: Object.freeze({ count: 10_000, maxAgeMs: 7 * 24 * 3_600_000 }),
});

// ---- Progress and task logs (src/queue/task-notes.ts) ----------------------------------------

/** Largest progress value a handler may report, as JSON bytes. */
export const MAX_PROGRESS_BYTES = 4_096;

/**
 * Bounds of one task's log, all its attempts together: past either, the oldest lines go
 * (the log says how many); a longer line is cut to `lineBytes`.
 */
export const TASK_LOG_LIMITS = Object.freeze({ lines: 1_000, bytes: 64 * 1024, lineBytes: 2_048 });

// ---- Durability (src/redis/durability.ts) ---------------------------------------------------------

export const durabilitySchema = z
  .object({
    /** Replicas that must have each write before it counts as done. */
    replicas: z.number().int().min(1).max(64),
    /** How long to wait for them. Default 1,000 ms. */
    timeoutMs: z.number().int().min(1).max(60_000).default(1_000),
  })
  .strict();

export type DurabilityOptions = z.input<typeof durabilitySchema>;
export type Durability = z.output<typeof durabilitySchema>;

// ---- Queue and Worker -------------------------------------------------------------------------

const MiB = 1024 * 1024;

const queueOptionsSchema = z
  .object({
    ...baseShape,
    /** Largest accepted payload, as JSON bytes. Default 1 MiB. */
    maxPayloadBytes: z.number().int().min(1).max(512 * MiB).default(MiB),
    /** Options applied to every task this Queue object enqueues unless the enqueue sets them. */
    defaultTaskOptions: defaultTaskOptionsSchema.optional(),
    /**
     * Each enqueue resolves only once this many replicas have it (Redis WAIT), so a
     * failover cannot lose it; too few in time: ReplicationTimeoutError. Default: none.
     */
    durability: durabilitySchema.optional(),
  })
  .strict();

export type QueueOptions = z.input<typeof queueOptionsSchema>;
export type ResolvedQueueOptions = Readonly<z.output<typeof queueOptionsSchema>>;

const workerOptionsSchema = z
  .object({
    ...baseShape,
    /** Handlers running at once in this worker. Default 1. */
    concurrency: z.number().int().min(1).max(10_000).default(1),
    /** How long a claim is valid without a heartbeat; heartbeats run every leaseMs/3. Default 30 s. */
    leaseMs: z.number().int().min(50).max(MAX_TIMER_MS).default(30_000),
    /** Largest accepted handler result, as JSON bytes. Default 1 MiB. */
    maxResultBytes: z.number().int().min(1).max(512 * MiB).default(MiB),
    /** Start claiming at construction. Default true; otherwise call `run()`. */
    autorun: z.boolean().default(true),
    /**
     * The timeout of tasks that have no `timeoutMs` of their own: past it the attempt
     * fails with HandlerTimeoutError (the signal is aborted; an isolated handler's thread
     * or process is terminated). Default: none.
     */
    timeoutMs: z.number().int().min(1).max(2 ** 31).optional(),
    /**
     * Run the handler module in a pool of worker threads ('thread') or child processes
     * ('process'), one task at a time each, so a timeout can terminate it and a crash or
     * a memory limit ends only its attempt. Needs a module, not a function:
     * `new Worker(queue, new URL('./handler.js', import.meta.url), { isolation: 'thread' })`.
     * Default: none (handlers run in this process).
     */
    isolation: z.enum(['thread', 'process']).optional(),
    /** With isolation: the V8 heap limit of each thread or process, in MiB; past it the attempt fails. Default: Node's. */
    memoryLimitMb: z.number().int().min(16).max(1_048_576).optional(),
    /**
     * Completions and failures are sent on once this many replicas have them (Redis WAIT),
     * so a failover does not undo them (which would run the task again); too few in time
     * is reported as an 'error' event (ReplicationTimeoutError). Default: none.
     */
    durability: durabilitySchema.optional(),
    /**
     * Run even when Redis's `maxmemory-policy` may evict queue keys (or cannot be read),
     * accepting that tasks may vanish. Default false: the worker refuses such a Redis, at
     * start and after every reconnect, with UnsafeEvictionPolicyError (docs/operations.md).
     */
    unsafeAllowEviction: z.boolean().default(false),
  })
  .strict();

export type WorkerOptions = z.input<typeof workerOptionsSchema>;
export type ResolvedWorkerOptions = Readonly<z.output<typeof workerOptionsSchema>>;

/**
 * Options that used to belong to one Queue or Worker object and are queue-wide settings now,
 * kept in Redis with one owner: each names its new home, so old code fails clearly.
 */
const MOVED_TO_SETTINGS: Readonly<Record<string, string>> = {
  maxWaiting: 'await queue.configure({ maxWaiting })',
  retention: 'await queue.configure({ retention })',
};

function refuseMoved(what: string, input: unknown): void {
  if (input === null || typeof input !== 'object') return;
  for (const [name, instead] of Object.entries(MOVED_TO_SETTINGS)) {
    if (name in input) {
      throw new ValidationError(`invalid ${what}: "${name}" is a queue-wide setting kept in Redis, so every process agrees on it: use ${instead}`);
    }
  }
}

// ---- Parsing ---------------------------------------------------------------------------------

/** Parses `input` with `schema`, turning every problem into one readable ValidationError. */
export function parseOptions<S extends z.ZodType>(what: string, schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  throw new ValidationError(`invalid ${what}: ${formatIssues(parsed.error.issues)}`, { cause: parsed.error });
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.length ? issue.path.join('.') : '(value)';
      if (issue.code === 'unrecognized_keys') {
        const where = issue.path.length ? ` in ${path}` : '';
        return `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}${where}`;
      }
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}

export function resolveQueueOptions(input: QueueOptions | undefined): ResolvedQueueOptions {
  refuseMoved('queue options', input);
  return Object.freeze(parseOptions('queue options', queueOptionsSchema, input));
}

export function resolveWorkerOptions(input: WorkerOptions | undefined): ResolvedWorkerOptions {
  refuseMoved('worker options', input);
  const options = parseOptions('worker options', workerOptionsSchema, input);
  if (options.memoryLimitMb !== undefined && !options.isolation) {
    throw new ValidationError("invalid worker options: memoryLimitMb applies to isolated handlers only: add isolation: 'thread' or 'process'");
  }
  return Object.freeze(options);
}

export function parseTaskOptions(input: unknown): z.output<typeof taskOptionsSchema> {
  return parseOptions('task options', taskOptionsSchema, input);
}
