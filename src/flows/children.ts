/**
 * Reading a flow parent's children as its handler sees them (`context.children()`): each
 * child's final state and result or error, as the parent recorded them from the children's
 * notices (so a child's retention does not matter).
 */
import type { TaskErrorInfo } from '../errors.js';
import { TASK_FIELDS as F, type QueueKeys } from '../redis/keys.js';
import type { RedisClient } from '../redis/scripts.js';
import { stateFromCode, type TaskState } from '../queue/states.js';
import { parseRef } from './hand-over.js';

/** One child of a flow parent, as the parent recorded it. */
export interface ChildOutcome<R = unknown> {
  queue: string;
  id: string;
  /** Its final state (or its current one, while it has not finished: `pending`). */
  state: TaskState | 'pending';
  /** Its result, when completed (absent when its handler returned undefined). */
  result?: R;
  /** Its error, when failed. */
  error?: TaskErrorInfo;
}

/** Decodes one `deps:<id>` entry (see docs/redis-layout.md). */
export function decodeOutcome(ref: string, stored: string): ChildOutcome {
  const { queue, id } = parseRef(ref);
  // `<version>:<state>` (the version of the last notice applied; see flow-record.lua).
  const entry = stored.slice(stored.indexOf(':') + 1);
  if (entry === '' || entry === 'R') return { queue, id, state: 'pending' };
  if (entry === 'X') return { queue, id, state: 'cancelled' };
  const state = stateFromCode(entry.slice(0, 1)) ?? 'pending';
  const outcome: ChildOutcome = { queue, id, state };
  const detail = entry.slice(1);
  if (detail !== '') {
    if (state === 'completed') outcome.result = JSON.parse(detail);
    else if (state === 'failed') outcome.error = JSON.parse(detail) as TaskErrorInfo;
  }
  return outcome;
}

/**
 * A parent's children keyed by `<queue>/<id>`. Under the 'ignore' policy, children that
 * failed or were cancelled are left out.
 */
export async function readChildren(client: RedisClient, keys: QueueKeys, id: string): Promise<Record<string, ChildOutcome>> {
  const [entries, policy] = await Promise.all([client.hgetall(keys.deps(id)), client.hget(keys.task(id), F.childPolicy)]);
  const out: Record<string, ChildOutcome> = {};
  for (const [ref, entry] of Object.entries(entries)) {
    const outcome = decodeOutcome(ref, entry);
    if (policy === 'ignore' && (outcome.state === 'failed' || outcome.state === 'cancelled')) continue;
    out[`${outcome.queue}/${outcome.id}`] = outcome;
  }
  return out;
}
