/**
 * The messages between a worker and the threads or processes that run its handlers in
 * isolation (pool.ts on one side, runtime.ts on the other), and how errors cross over.
 *
 * Payloads and results cross as the JSON text Redis holds: the worker never parses a
 * payload it hands over, and the result a handler returns is encoded (and checked against
 * maxResultBytes) where it ran, then stored as sent.
 */

/** An error as it crosses the boundary; `kind` keeps the handler signals apart. */
export interface ErrorRecord {
  name: string;
  message: string;
  stack?: string;
  kind: 'error' | 'unrecoverable' | 'retry-after';
  /** For 'retry-after': the delay the handler asked for. */
  delayMs?: number;
}

export interface InitMessage {
  t: 'init';
  /** The handler module's URL. */
  handler: string;
  queue: string;
  maxResultBytes: number;
  maxProgressBytes: number;
}

export interface RunMessage {
  t: 'run';
  id: string;
  /** The payload as stored: JSON text. */
  payload: string;
  attempt: number;
  maxAttempts: number;
  createdAt: number;
  /** '' for none. */
  group: string;
  /** A flow child's parent, `<queue>|<id>`; absent for none. */
  parent?: string;
  /** A chain step: `previous` is its payload. */
  chained?: boolean;
  /** A flow parent's children as `context.children()` gives them, read by the worker before the run. */
  children?: Record<string, unknown>;
}

export interface AbortMessage {
  t: 'abort';
  id: string;
  reason: ErrorRecord;
}

export type ToRuntime = InitMessage | RunMessage | AbortMessage;

export type FromRuntime =
  | { t: 'ready' }
  | { t: 'load-failed'; error: ErrorRecord }
  /** The handler's result as JSON text ('' when it returned undefined). */
  | { t: 'done'; id: string; json: string }
  | { t: 'failed'; id: string; error: ErrorRecord }
  | { t: 'progress'; id: string; json: string }
  | { t: 'log'; id: string; text: string };

/**
 * What crosses for anything thrown. The handler signals are told apart by name (and
 * shape), not class: a handler module may load its own copy of Errand.
 */
export function toRecord(thrown: unknown): ErrorRecord {
  if (!(thrown instanceof Error)) {
    let message: string;
    try {
      message = typeof thrown === 'string' ? thrown : (JSON.stringify(thrown) ?? String(thrown));
    } catch {
      message = String(thrown);
    }
    return { name: 'Error', message, kind: 'error' };
  }
  const record: ErrorRecord = { name: thrown.name, message: thrown.message, kind: 'error' };
  if (thrown.stack) record.stack = thrown.stack;
  const delayMs = (thrown as { delayMs?: unknown }).delayMs;
  if (thrown.name === 'UnrecoverableError') record.kind = 'unrecoverable';
  else if (thrown.name === 'RetryAfterError' && typeof delayMs === 'number') {
    record.kind = 'retry-after';
    record.delayMs = delayMs;
  }
  return record;
}
