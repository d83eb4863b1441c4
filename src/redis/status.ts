/**
 * Scripts answer with numeric status codes; this is the one table of them (the Lua prelude
 * gets it as STATUS, so scripts never spell a number) and the one place that turns them
 * into typed errors. Nothing parses error strings.
 */
import { InvalidStateError, LeaseLostError, QueueFullError, TaskNotFoundError } from '../errors.js';

export const Status = {
  OK: 0,
  LEASE_LOST: 1,
  TASK_NOT_FOUND: 2,
  INVALID_STATE: 3,
  QUEUE_FULL: 4,
  DEAD_LETTERED: 5,
  /** An enqueue routed by another partition count than the queue's now (src/queue/partitions.ts): nothing written. */
  LAYOUT_CHANGED: 6,
} as const;

export type StatusCode = (typeof Status)[keyof typeof Status];

export interface StatusContext {
  queue: string;
  taskId?: string;
  /** For INVALID_STATE: what was attempted and which states allow it. */
  action?: string;
  allowed?: string;
  /** The task's state, as the script reported it. */
  state?: string;
  maxWaiting?: number;
}

/** Returns normally for success codes; throws the typed error for the others. */
export function checkStatus(code: number, context: StatusContext): void {
  const id = context.taskId ?? '?';
  switch (code) {
    case Status.OK:
    case Status.DEAD_LETTERED:
      return;
    case Status.LAYOUT_CHANGED:
      throw new Error('the queue\'s partitions changed during the call: send it again (a bug in Errand if this reaches you: please report it)');
    case Status.LEASE_LOST:
      throw new LeaseLostError(id);
    case Status.TASK_NOT_FOUND:
      throw new TaskNotFoundError(context.queue, id);
    case Status.INVALID_STATE:
      throw new InvalidStateError(id, context.state ?? 'unknown', context.action ?? 'change', context.allowed ?? 'other');
    case Status.QUEUE_FULL:
      throw new QueueFullError(context.queue, context.maxWaiting ?? 0);
    default:
      throw new Error(`unknown script status ${code} (a bug in Errand: please report it)`);
  }
}
