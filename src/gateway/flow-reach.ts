/**
 * What a token limited to some queues may reach through a flow. Cancelling, retrying or
 * removing a flow node acts beyond its own queue: a cancel reaches its descendants, a retry
 * re-opens its parent (and that parent's parent) and retries siblings, a removal takes its
 * tree and tells its parent. So a limited token may act on a flow node only if it lists
 * every queue of the node's whole flow, from its root down; a token without queue limits
 * is not asked (and pays no read). A flow too large to read for the check is refused to a
 * limited token.
 */
import { ForbiddenError } from '../errors.js';
import type { Flows, FlowTreeNode } from '../flows/flows.js';
import { assertResource, type Identity } from './scopes.js';

/** Nodes of a flow read to check a limited token at most; a larger flow is refused to it. */
const CHECK_NODES = 10_000;
/** Levels walked up to a flow's root at most (trees are checked this deep when created). */
const MAX_LEVELS = 1_000;

/** Every queue of a flow tree (its nodes, and the parent named by its top node). */
export function queuesOfTree(node: FlowTreeNode): Set<string> {
  const queues = new Set<string>();
  const pending = [node];
  for (let next = pending.pop(); next; next = pending.pop()) {
    queues.add(next.queue);
    if (next.parent) queues.add(next.parent.queue);
    pending.push(...next.children);
  }
  return queues;
}

function size(node: FlowTreeNode): number {
  let count = 0;
  const pending = [node];
  for (let next = pending.pop(); next; next = pending.pop()) {
    count++;
    pending.push(...next.children);
  }
  return count;
}

/** Refuses (403) a limited token an action on a flow node whose flow has a queue it lacks. */
export async function assertFlowReach(identity: Identity, flows: Flows, queue: string, id: string): Promise<void> {
  if (!identity.limits) return;
  let top = await flows.get(queue, id, { maxNodes: 1 });
  if (!top) return; // the action itself answers that the task does not exist
  for (let level = 0; top.parent && level < MAX_LEVELS; level++) {
    const above: FlowTreeNode | null = await flows.get(top.parent.queue, top.parent.id, { maxNodes: 1 });
    if (!above) break; // its parent is gone: the flow ends here
    top = above;
  }
  const whole = await flows.get(top.queue, top.id, { maxNodes: CHECK_NODES });
  if (!whole) return;
  if (size(whole) >= CHECK_NODES) {
    throw new ForbiddenError(`the token "${identity.name}" is limited to some queues, and this task's flow is too large to check (over ${CHECK_NODES.toLocaleString('en')} tasks): use a token not limited to queues`);
  }
  for (const name of queuesOfTree(whole)) assertResource(identity, 'queue', name);
}
