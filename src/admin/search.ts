/**
 * Search within a queue's retained tasks, for the dashboard (and later the CLI).
 *
 * Responsible for: finding a task by id (one read), and scanning the retained tasks of a
 * queue page by page (`Queue.list`) for a text in their payloads, bounded by a number of
 * tasks read so that a search over a huge queue costs a known amount. A payload matches
 * when the text occurs, ignoring case, in its JSON or in any of its string values or keys
 * (so `"quoted"` text matches without JSON's escaping). The queue moves while it is
 * scanned: a task that changes state mid-scan may be missed or seen twice (it is reported
 * once); the result says how many tasks were read and why the scan stopped.
 */
import { TASK_ID_PATTERN } from '../config.js';
import { ValidationError } from '../errors.js';
import type { Queue } from '../queue/queue.js';
import type { TaskInfo } from '../queue/task.js';
import type { TaskState } from '../queue/states.js';

/** Most tasks one search reads, unless told otherwise. */
export const DEFAULT_SCAN_LIMIT = 10_000;
/** Most matches one search returns, unless told otherwise. */
export const DEFAULT_MAX_MATCHES = 100;
/** Longest search text, in characters. */
export const MAX_SEARCH_TEXT = 500;

/** States in scan order: the tasks someone searching is most likely after come first. */
const SCAN_ORDER: readonly TaskState[] = ['failed', 'active', 'waiting', 'delayed', 'completed', 'cancelled'];
const PAGE_SIZE = 500;

export interface SearchOptions {
  /** Text to find in payloads (1-500 characters); case is ignored. */
  text: string;
  /** Read at most this many tasks (1-100,000). Default 10,000. */
  scanLimit?: number;
  /** Stop after this many matches (1-1,000). Default 100. */
  maxMatches?: number;
}

export interface SearchResult<P = unknown, R = unknown> {
  /** The task whose id is exactly the text, if there is one. */
  byId: TaskInfo<P, R> | null;
  /** Tasks whose payload contains the text, in scan order. */
  matches: TaskInfo<P, R>[];
  /** Tasks read. */
  scanned: number;
  /** Why the scan stopped: every retained task was read, the scan limit, or enough matches. */
  stoppedBy: 'end' | 'scanLimit' | 'maxMatches';
}

function* texts(value: unknown): Generator<string> {
  if (typeof value === 'string') yield value;
  else if (Array.isArray(value)) for (const item of value) yield* texts(item);
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      yield key;
      yield* texts(item);
    }
  }
}

/** Whether `payload` contains `needle` (already lower-cased). */
export function payloadContains(payload: unknown, needle: string): boolean {
  if ((JSON.stringify(payload) ?? '').toLowerCase().includes(needle)) return true;
  for (const text of texts(payload)) if (text.toLowerCase().includes(needle)) return true;
  return false;
}

function boundedInt(name: string, value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new ValidationError(`${name} must be a whole number from 1 to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

const TASK_ID = TASK_ID_PATTERN;

export async function searchTasks<P, R>(queue: Queue<P, R>, options: SearchOptions): Promise<SearchResult<P, R>> {
  const { text } = options;
  if (typeof text !== 'string' || text.length < 1 || text.length > MAX_SEARCH_TEXT) {
    throw new ValidationError(`search text must have 1-${MAX_SEARCH_TEXT} characters`);
  }
  const scanLimit = boundedInt('scanLimit', options.scanLimit, DEFAULT_SCAN_LIMIT, 100_000);
  const maxMatches = boundedInt('maxMatches', options.maxMatches, DEFAULT_MAX_MATCHES, 1_000);
  const byId = TASK_ID.test(text.trim()) ? await queue.getTask(text.trim()) : null;

  const needle = text.toLowerCase();
  const seen = new Set<string>();
  const matches: TaskInfo<P, R>[] = [];
  let scanned = 0;
  for (const state of SCAN_ORDER) {
    for (let offset = 0; ; offset += PAGE_SIZE) {
      const limit = Math.min(PAGE_SIZE, scanLimit - scanned);
      if (limit <= 0) return { byId, matches, scanned, stoppedBy: 'scanLimit' };
      const page = await queue.list(state, { offset, limit });
      scanned += page.length;
      for (const task of page) {
        if (seen.has(task.id) || !payloadContains(task.payload, needle)) continue;
        seen.add(task.id);
        matches.push(task);
        if (matches.length >= maxMatches) return { byId, matches, scanned, stoppedBy: 'maxMatches' };
      }
      if (page.length < limit) break; // the end of this state's tasks
    }
  }
  return { byId, matches, scanned, stoppedBy: 'end' };
}
