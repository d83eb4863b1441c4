/**
 * The typed boundary to the flow scripts (parent/child trees and chains): one function per
 * script, owning its KEYS (the queue's fence first, then one declared key), its ARGV and
 * the decoding of its reply. See each script's header in scripts/ for its contract.
 */
import type { QueueKeys } from './keys.js';
import type { Arg, ScriptCall, ScriptName } from './scripts.js';
import { Status } from './status.js';

function call<T>(name: ScriptName, keys: string[], args: Arg[], decode: (reply: unknown) => T): ScriptCall<T> {
  return { name, keys, args, decode };
}

/** One node of a flow as flow-create writes it. */
export interface FlowNodeRecord {
  id: string;
  payloadJson: string;
  priority: number;
  maxAttempts: number;
  /** '' for none. */
  backoffJson: string;
  timeoutMs: number | undefined;
  /** `<queue>|<id>`; '' for the root. */
  parent: string;
  /** `<queue>|<id>`; '' for the root itself. */
  root: string;
  /** '' for a leaf. */
  childPolicy: '' | 'fail' | 'ignore' | 'continue';
  chained: boolean;
  /** `<queue>|<id>` of each child. */
  children: readonly string[];
}

/** The first of `count` consecutive ids reserved on the queue. */
export function reserveIds(k: QueueKeys, count: number): ScriptCall<bigint> {
  return call('flow-ids', [k.fence, k.meta], [count], (reply) => BigInt(String(reply)));
}

/** Writes nodes in the `dependencies` state; the id that was taken, if one was (nothing written then). */
export function createNodes(k: QueueKeys, nodes: readonly FlowNodeRecord[]): ScriptCall<string | undefined> {
  const args: Arg[] = [];
  for (const n of nodes) {
    args.push(n.id, n.payloadJson, n.priority, n.maxAttempts, n.backoffJson, n.timeoutMs ?? '', n.parent, n.root, n.childPolicy, n.chained ? '1' : '', n.children.length, ...n.children);
  }
  return call('flow-create', [k.fence, k.meta], args, (reply) => {
    const [status, id] = reply as [number | string, string?];
    return Number(status) === Status.OK ? undefined : String(id);
  });
}

/** Moves committed leaves (no pending child) to waiting; how many moved. */
export function releaseNodes(k: QueueKeys, ids: readonly string[]): ScriptCall<number> {
  return call('flow-release', [k.fence, k.dependencies], [...ids], Number);
}

export interface RecordReply {
  /** False: the parent is gone, or does not list the child (nothing to apply). */
  applied: boolean;
  /** The parent became claimable. */
  released: boolean;
  /** The parent left a notice for its own parent (to apply next). */
  upward: boolean;
  /** `<queue>|<id>` of children to cancel. */
  cancel: string[];
  /** `<queue>|<id>` of children to retry. */
  retry: string[];
}

/** A child's notice as its parent records it. */
export interface ChildNotice {
  /** `<queue>|<id>`. */
  child: string;
  /** The child's count of notices (newer wins). */
  version: number;
  /** `<state code><detail>`, or 'r' (retried). */
  outcome: string;
}

/** Applies children's notices to their parent (at most a few thousand per call). */
export function recordOutcomes(k: QueueKeys, parentId: string, notices: readonly ChildNotice[]): ScriptCall<RecordReply> {
  const args: (string | number)[] = [parentId];
  for (const n of notices) args.push(n.child, n.version, n.outcome);
  return call('flow-record', [k.fence, k.task(parentId)], args, (reply) => {
    const [released, upward, cancel, retry] = reply as [number | string, (number | string)?, string[]?, string[]?];
    if (Number(released) === -1) return { applied: false, released: false, upward: false, cancel: [], retry: [] };
    return { applied: true, released: Number(released) === 1, upward: Number(upward) === 1, cancel: (cancel ?? []).map(String), retry: (retry ?? []).map(String) };
  });
}

/** Deletes children's notices that are still as applied; how many were. */
export function clearNotices(k: QueueKeys, notices: readonly { childId: string; notice: string }[]): ScriptCall<number> {
  return call('flow-clear', [k.fence, k.notices], notices.flatMap((n) => [n.childId, n.notice]), Number);
}
