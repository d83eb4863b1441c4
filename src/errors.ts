/**
 * The error registry: every error Errand raises has a stable `code`, the HTTP status the
 * gateway answers with, and a message that names the fix. `docs/errors.md` lists the same
 * codes; a test keeps the two in step.
 *
 * Handler signals (`UnrecoverableError`, `RetryAfterError`) are thrown by user handlers to
 * steer retries; they are not system errors and live at the end of this file.
 */

export const errorCodes = {
  INVALID_ARGUMENT: 400,
  PAYLOAD_TOO_LARGE: 413,
  QUEUE_FULL: 429,
  PARTITIONS_DISAGREE: 409,
  SETTINGS_CONFLICT: 409,
  TASK_NOT_FOUND: 404,
  SCHEDULE_NOT_FOUND: 404,
  INVALID_STATE: 409,
  LEASE_LOST: 409,
  TASK_FAILED: 422,
  TASK_CANCELLED: 409,
  WAIT_TIMEOUT: 408,
  HANDLER_TIMEOUT: 500,
  HANDLER_CRASHED: 500,
  REDIS_UNAVAILABLE: 503,
  REPLICATION_TIMEOUT: 503,
  REDIS_AUTH_FAILED: 503,
  REDIS_OUT_OF_MEMORY: 507,
  UNSAFE_EVICTION_POLICY: 503,
  CLOSED: 503,
  // Raised by the HTTP gateway (and its dashboard) only.
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  REQUEST_TIMEOUT: 408,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  HEADERS_TOO_LARGE: 431,
  TOO_MANY_STREAMS: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof errorCodes;

/** Base class of every error Errand raises. `instanceof` works across the whole hierarchy. */
export class ErrandError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.httpStatus = errorCodes[code];
  }

  /** The shape errors take over HTTP and in `--json` output. */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** An argument, option, name or payload was not acceptable. Nothing reached Redis. */
export class ValidationError extends ErrandError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options);
  }
}

/** No schedule with this id in the queue (never created, or removed). */
export class ScheduleNotFoundError extends ErrandError {
  constructor(
    readonly queue: string,
    readonly scheduleId: string,
  ) {
    super('SCHEDULE_NOT_FOUND', `schedule "${scheduleId}" does not exist in queue "${queue}" (never created, or removed): list them with queue.schedules()`);
  }
}

/** A payload, result or message is larger than the configured limit. Nothing reached Redis. */
export class PayloadTooLargeError extends ErrandError {
  constructor(what: string, bytes: number, limitBytes: number) {
    super(
      'PAYLOAD_TOO_LARGE',
      `${what} is ${bytes} bytes, over the limit of ${limitBytes} bytes: store large data elsewhere and pass a reference, or raise maxPayloadBytes`,
    );
  }
}

/** The queue holds `maxWaiting` tasks already; the enqueue was rejected as a whole. */
export class QueueFullError extends ErrandError {
  constructor(
    readonly queue: string,
    readonly maxWaiting: number,
    /** Tasks of the same `enqueueMany` call that were accepted before the rejected chunk. */
    readonly enqueued: string[] = [],
  ) {
    super(
      'QUEUE_FULL',
      `queue "${queue}" is full (maxWaiting ${maxWaiting}): retry later, add workers, or raise maxWaiting`,
    );
  }
}

/**
 * A partitioned queue's partitions hold different partition counts (a configure was cut
 * short), so producers cannot route: the tasks not yet placed were not written.
 */
export class PartitionsDisagreeError extends ErrandError {
  constructor(
    readonly queue: string,
    /** Tasks of the same call that other partitions accepted before routing gave up. */
    readonly enqueued: string[] = [],
  ) {
    super(
      'PARTITIONS_DISAGREE',
      `queue "${queue}": its partitions disagree on their count (a configure cut short?): configure the queue's partitions again, e.g. errand configure ${queue} --partitions <n>`,
    );
  }
}

/** A settings change kept meeting other changes made at the same time, or waited too long for its turn; it was not applied. */
export class SettingsConflictError extends ErrandError {
  constructor(
    readonly queue: string,
    /** What kept it from being applied. */
    why: string,
  ) {
    super('SETTINGS_CONFLICT', `queue "${queue}": settings change not applied, ${why}: make the change again`);
  }
}

export class TaskNotFoundError extends ErrandError {
  constructor(
    readonly queue: string,
    readonly taskId: string,
  ) {
    super('TASK_NOT_FOUND', `task "${taskId}" does not exist in queue "${queue}" (never created, removed, or past its retention)`);
  }
}

/** The task is not in a state that allows the action (e.g. retrying a completed task). */
export class InvalidStateError extends ErrandError {
  constructor(
    readonly taskId: string,
    readonly state: string,
    action: string,
    allowed: string,
    /** Why, when the state allows the action but something else does not. */
    why?: string,
  ) {
    super('INVALID_STATE', why ? `cannot ${action} task "${taskId}" (${state}): ${why}` : `cannot ${action} task "${taskId}": it is ${state}, and only ${allowed} tasks can be`);
  }
}

/**
 * The caller no longer holds the task's lease: it expired and another worker may have the
 * task, or the task was cancelled or removed. The write was refused and changed nothing.
 */
export class LeaseLostError extends ErrandError {
  constructor(readonly taskId: string) {
    super(
      'LEASE_LOST',
      `lease on task "${taskId}" was lost (expired, cancelled or removed): the result was not recorded. Raise leaseMs if handlers block the event loop`,
    );
  }
}

/** Details of a failed attempt as stored with the task. */
export interface TaskErrorInfo {
  name: string;
  message: string;
  stack?: string;
}

/** `task.result()` of a task that ended `failed`. `error` is its last attempt's error. */
export class TaskFailedError extends ErrandError {
  constructor(
    readonly taskId: string,
    readonly error: TaskErrorInfo,
  ) {
    super('TASK_FAILED', `task "${taskId}" failed: ${error.name}: ${error.message}`);
  }
}

export class TaskCancelledError extends ErrandError {
  constructor(readonly taskId: string) {
    super('TASK_CANCELLED', `task "${taskId}" was cancelled`);
  }
}

/** A wait for a result ended before the task did. The task itself is unaffected. */
export class WaitTimeoutError extends ErrandError {
  constructor(
    readonly taskId: string,
    readonly timeoutMs: number,
  ) {
    super('WAIT_TIMEOUT', `task "${taskId}" did not finish within ${timeoutMs} ms; it is still queued or running: wait again or raise timeoutMs`);
  }
}

/**
 * A handler ran past its `timeoutMs`; the attempt failed. In process its signal is aborted;
 * an isolated handler's thread or process is terminated.
 */
export class HandlerTimeoutError extends ErrandError {
  constructor(
    readonly taskId: string,
    readonly timeoutMs: number,
  ) {
    super('HANDLER_TIMEOUT', `handler for task "${taskId}" ran longer than timeoutMs ${timeoutMs}`);
  }
}

/**
 * An isolated handler's thread or process ended while it ran a task (out of memory,
 * killed from outside, exited, or a thread's uncaught error): that attempt failed; the
 * worker replaced the thread or process and goes on.
 */
export class HandlerCrashedError extends ErrandError {
  constructor(
    readonly taskId: string,
    /** What ended: 'thread' or 'process'. */
    readonly isolation: string,
    /** How it ended, as a phrase ("ran out of memory (memoryLimitMb 64)"). */
    readonly how: string,
    fix: string,
  ) {
    super('HANDLER_CRASHED', `the ${isolation} running the handler for task "${taskId}" ${how}: ${fix}`);
  }
}

export class RedisUnavailableError extends ErrandError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('REDIS_UNAVAILABLE', `Redis is unavailable: ${message}. Check that redis-server runs and REDIS_URL points at it`, options);
  }
}

/**
 * A write asked for `durability` was made on the primary, but fewer replicas than asked
 * acknowledged it within the time allowed: a failover now could lose it.
 */
export class ReplicationTimeoutError extends ErrandError {
  constructor(
    readonly acknowledged: number,
    readonly wanted: number,
    readonly timeoutMs: number,
    /** Ids of the tasks the write created (an enqueue), which exist on the primary. */
    readonly written: string[] = [],
  ) {
    super(
      'REPLICATION_TIMEOUT',
      `written on the primary, but only ${acknowledged} of ${wanted} replicas acknowledged it within ${timeoutMs} ms, ` +
        'so a failover could lose it: check the replicas (INFO replication), or lower durability.replicas',
    );
  }
}

/**
 * Redis refused the credentials (WRONGPASS, NOAUTH): the password or user in the Redis URL
 * is wrong or missing. The message never holds the credential itself.
 */
export class RedisAuthFailedError extends ErrandError {
  constructor(reply: string) {
    super(
      'REDIS_AUTH_FAILED',
      `Redis refused the credentials (${reply}): check the user and password in REDIS_URL (redis://user:password@host:port) or the connection options`,
    );
  }
}

/**
 * Redis answered OOM: it is at `maxmemory` and, under `noeviction`, refuses writes. Nothing
 * was written; the command can be sent again once memory is freed.
 */
export class RedisOutOfMemoryError extends ErrandError {
  constructor() {
    super(
      'REDIS_OUT_OF_MEMORY',
      "Redis is out of memory (used memory > 'maxmemory') and refused the write; nothing was written: " +
        'raise maxmemory, remove tasks you do not need (errand remove, or the dashboard), or shorten the retention of finished tasks',
    );
  }
}

/**
 * Redis runs with a `maxmemory-policy` that may evict queue keys (tasks would vanish without
 * a word), or the policy could not be read. Errand refuses to run there unless told to
 * accept the risk (`unsafeAllowEviction`, `--unsafe-allow-eviction`, ERRAND_UNSAFE_ALLOW_EVICTION=1).
 */
export class UnsafeEvictionPolicyError extends ErrandError {
  constructor(
    /** The policy Redis reported, or null when it could not be read. */
    readonly policy: string | null,
    message: string,
  ) {
    super('UNSAFE_EVICTION_POLICY', message);
  }
}

/** The Queue, Worker or other object was closed; create a new one. */
export class ClosedError extends ErrandError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed: create a new one`);
  }
}

// ---- HTTP gateway -----------------------------------------------------------------------

/** A gateway request without the bearer token the gateway was started with. */
export class UnauthorizedError extends ErrandError {
  constructor() {
    super('UNAUTHORIZED', 'missing or wrong bearer token: send the header "Authorization: Bearer <ERRAND_TOKEN>"');
  }
}

/** Too many failed logins or wrong tokens from one client address; refused until the window passes. */
export class AuthRateLimitedError extends ErrandError {
  constructor(readonly retryAfterS: number) {
    super(
      'RATE_LIMITED',
      `too many failed authentications from this address: every request from it is refused for ${retryAfterS} s more; then send the right token`,
    );
  }
}

/** The client took longer than the gateway's requestTimeoutMs to send its request (headers and body). */
export class RequestTimeoutError extends ErrandError {
  constructor(timeoutMs: number) {
    super('REQUEST_TIMEOUT', `the request was not received whole within ${timeoutMs} ms: send the body at once (or raise requestTimeoutMs)`);
  }
}

/** The request's headers are over the HTTP server's size limit. */
export class HeadersTooLargeError extends ErrandError {
  constructor() {
    super('HEADERS_TOO_LARGE', 'the request headers are too large: send fewer or shorter headers (cookies included)');
  }
}

/** The gateway holds as many event streams of this kind as it is allowed to; try again later. */
export class TooManyStreamsError extends ErrandError {
  constructor(
    what: string,
    limit: number,
    readonly retryAfterS: number,
  ) {
    super('TOO_MANY_STREAMS', `this gateway already serves ${limit} ${what} (its limit): retry in ${retryAfterS} s, use another gateway, or raise the limit`);
  }
}

/** No gateway route has this method and path. */
export class RouteNotFoundError extends ErrandError {
  constructor(method: string, path: string) {
    super('NOT_FOUND', `no route ${method} ${path}: the routes are listed in /openapi.json`);
  }
}

/** A gateway request body in a format other than JSON. */
export class UnsupportedMediaTypeError extends ErrandError {
  constructor(contentType: string | undefined) {
    super('UNSUPPORTED_MEDIA_TYPE', `unsupported content type ${JSON.stringify(contentType ?? '')}: send JSON with "Content-Type: application/json"`);
  }
}

/** An unexpected failure inside the gateway; its details are in the gateway's log. */
export class InternalError extends ErrandError {
  constructor(options?: { cause?: unknown }) {
    super('INTERNAL', 'internal error: the gateway log has the details (please report it if it repeats)', options);
  }
}

/**
 * A request that is authenticated but not allowed as sent: a dashboard call without the
 * session's CSRF token, a cross-site request, (without a token) a Host that is not a
 * loopback name, or a token whose scope does not cover the route. The message names the fix.
 */
export class ForbiddenError extends ErrandError {
  constructor(reason: string) {
    super('FORBIDDEN', reason);
  }
}

// ---- Handler signals -------------------------------------------------------------------

/** Thrown by a handler: fail the task now, without its remaining attempts. */
export class UnrecoverableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnrecoverableError';
  }
}

/** Thrown by a handler: this attempt failed; retry after `delayMs` instead of the backoff. */
export class RetryAfterError extends Error {
  constructor(
    readonly delayMs: number,
    message = `retry requested after ${delayMs} ms`,
  ) {
    super(message);
    this.name = 'RetryAfterError';
  }
}

/**
 * Thrown by a handler that hit an upstream limit (an API's 429): the task goes back in line
 * without using an attempt, and its queue (scope 'queue', the default) or only its group
 * (scope 'group') claims nothing for `delayMs` (a longer hold in force stays).
 */
export class RateLimitedError extends Error {
  readonly scope: 'queue' | 'group';

  constructor(
    readonly delayMs: number,
    options: { scope?: 'queue' | 'group'; message?: string } = {},
  ) {
    // A hold of no time would send the task straight back, over and over, never using an
    // attempt: a handler that means "not now" says for how long.
    if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 1) {
      throw new ValidationError(`RateLimitedError needs a delay of at least 1 ms (got ${String(delayMs)}): pass how long the upstream asked to wait, e.g. its Retry-After in ms`);
    }
    if (options.scope !== undefined && options.scope !== 'queue' && options.scope !== 'group') {
      throw new ValidationError(`RateLimitedError's scope is 'queue' or 'group' (got ${JSON.stringify(options.scope)})`);
    }
    super(options.message ?? `rate limited: hold the ${options.scope ?? 'queue'} for ${delayMs} ms`);
    this.name = 'RateLimitedError';
    this.scope = options.scope ?? 'queue';
  }
}

/** Turns anything thrown into the record stored with a failed attempt. */
export function describeError(error: unknown): TaskErrorInfo {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  }
  return { name: 'Error', message: typeof error === 'string' ? error : safeString(error) };
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
