/**
 * Tasks as the enqueue script takes them: every task validated and encoded before anything
 * reaches Redis (the payload as JSON within its size limit, the options checked, the
 * queue's default options applied), and the one rule that tells generated ids from
 * callers' ids.
 */
import { DEFAULT_ATTEMPTS, parseTaskOptions, validateTaskId, type ResolvedQueueOptions, type TaskOptions } from '../config.js';
import { ValidationError } from '../errors.js';
import { encodeJson } from '../json.js';
import { SCHEDULE_RUN_PREFIX } from '../redis/keys.js';
import type { EncodedTask } from '../redis/queue-scripts.js';

/**
 * Generated ids are digits, with a partitioned queue's partition mark after them (`~3`,
 * `~3.17`: src/queue/partitions.ts); callers' ids never are (encodeTask refuses them).
 */
export const GENERATED_ID = /^\d+(~\d+(\.\d+)?)?$/;

export type EnqueueItem<P> = { payload: P } & TaskOptions;

function isEmptyObject(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const _key in value) return false;
  return true;
}

/** An enqueueMany item carries options besides its payload. */
function hasOptions(item: object): boolean {
  for (const key in item) if (key !== 'payload') return true;
  return false;
}

function withoutPayload(item: object): Record<string, unknown> {
  const { payload: _payload, ...options } = item as Record<string, unknown>;
  return options;
}

type EncodingOptions = Pick<ResolvedQueueOptions, 'maxPayloadBytes' | 'defaultTaskOptions'>;

/** A task as the enqueue script takes it: its record, or only its payload JSON when every option is the default. */
export function encodeTask(payload: unknown, input: unknown, queue: EncodingOptions): EncodedTask {
  const json = encodeJson(payload, 'payload', queue.maxPayloadBytes);
  // Most tasks come with no options: nothing to validate (bulk enqueues).
  if (queue.defaultTaskOptions === undefined && isEmptyObject(input)) return json;
  const options = isEmptyObject(input) ? {} : parseTaskOptions(input);
  const defaults = queue.defaultTaskOptions ?? {};
  if (options.delayMs !== undefined && options.runAt !== undefined) {
    throw new ValidationError('invalid task options: set delayMs or runAt, not both');
  }
  let id = '';
  if (options.id !== undefined) {
    id = validateTaskId(options.id);
    if (id.includes('~')) throw new ValidationError(`invalid task id "${id}": "~" is reserved for the partition mark of generated ids; use 1-128 characters from A-Z a-z 0-9 . _ : -`);
    if (GENERATED_ID.test(id)) throw new ValidationError(`invalid task id "${id}": ids of digits only are reserved for generated ids`);
    if (id.startsWith(SCHEDULE_RUN_PREFIX)) throw new ValidationError(`invalid task id "${id}": ids starting with "${SCHEDULE_RUN_PREFIX}" are reserved for schedule runs`);
  }
  const runAt = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
  if (runAt !== undefined && !Number.isFinite(runAt)) throw new ValidationError('invalid task options: runAt is not a valid date');
  const backoff = options.backoff ?? defaults.backoff;
  const timeoutMs = options.timeoutMs ?? defaults.timeoutMs;
  return {
    id,
    payloadJson: json,
    priority: options.priority ?? defaults.priority ?? 0,
    delayMs: options.delayMs ?? 0,
    runAt,
    maxAttempts: options.attempts ?? defaults.attempts ?? DEFAULT_ATTEMPTS,
    backoffJson: backoff ? JSON.stringify(backoff) : '',
    timeoutMs,
    dedupeKey: options.dedupeKey ?? '',
    group: options.group ?? '',
  };
}

/** The items of an enqueueMany call, each encoded; a problem names the item. */
export function encodeItems<P>(items: readonly EnqueueItem<P>[], queue: EncodingOptions): EncodedTask[] {
  if (!Array.isArray(items)) throw new ValidationError('enqueueMany takes an array of { payload, ...options }');
  return items.map((item, index) => {
    if (item === null || typeof item !== 'object' || !('payload' in item)) {
      throw new ValidationError(`item ${index} has no payload: pass { payload, ...options }`);
    }
    try {
      // Copying the options out only when there are any (most bulk items are bare payloads).
      return encodeTask(item.payload, hasOptions(item) ? withoutPayload(item) : undefined, queue);
    } catch (error) {
      if (items.length > 1 && error instanceof Error) error.message = `item ${index}: ${error.message}`;
      throw error;
    }
  });
}

/**
 * Tasks with the producer's trace context (a W3C traceparent; '' for none): a task with
 * one needs the script's full form.
 */
export function withTrace<T extends EncodedTask | EncodedTask[]>(tasks: T, traceparent: string): T {
  if (!traceparent) return tasks;
  const traced = (task: EncodedTask): EncodedTask =>
    typeof task === 'string'
      ? { id: '', payloadJson: task, priority: 0, delayMs: 0, runAt: undefined, maxAttempts: DEFAULT_ATTEMPTS, backoffJson: '', timeoutMs: undefined, dedupeKey: '', group: '', traceparent }
      : { ...task, traceparent };
  return (Array.isArray(tasks) ? tasks.map(traced) : traced(tasks as EncodedTask)) as T;
}
