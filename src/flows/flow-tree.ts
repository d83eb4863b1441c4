/**
 * A flow as the caller describes it, checked whole before anything reaches Redis, and
 * flattened into the nodes flow-create writes.
 *
 * Responsible for: the shape of a node (queue, payload, children, failure policy, task
 * options), the size limit, chains turned into trees (each step the parent of the one
 * before it), and a clear ValidationError naming the node for every bad input. Cycles are
 * impossible by construction: a node's children are new nodes, never references.
 */
import { z } from 'zod';
import { formatIssues, validateName, type BackoffOptions } from '../config.js';
import { ValidationError } from '../errors.js';
import { encodeJson } from '../json.js';
import { taskOptionsShape } from '../config.js';

/** Nodes one `add` or `chain` call may create at most. */
export const MAX_FLOW_NODES = 100_000;

export type ChildFailurePolicy = 'fail' | 'ignore' | 'continue';
export const CHILD_FAILURE_POLICIES = ['fail', 'ignore', 'continue'] as const;

/** Task options a flow node may carry. */
export interface FlowTaskOptions {
  /** Higher runs first; FIFO within one priority. Default 0. */
  priority?: number;
  /** Total runs allowed. Default 3. */
  attempts?: number;
  backoff?: BackoffOptions;
  timeoutMs?: number;
}

/** One node of a flow: a task, and the tasks it waits for. */
export interface FlowNode<P = unknown> extends FlowTaskOptions {
  queue: string;
  payload?: P;
  /** Tasks that must reach a final state before this one runs (any queue, any depth). */
  children?: FlowNode[];
  /**
   * What a child that ends failed (or cancelled) does to this task: 'fail' (default) fails
   * it and cancels its remaining children; 'ignore' leaves the child out of
   * `context.children()`; 'continue' runs it with the child's error in that view.
   */
  onChildFailure?: ChildFailurePolicy;
}

/** One step of a chain: its payload only on the first (the others get the previous result). */
export interface ChainStep<P = unknown> extends FlowTaskOptions {
  queue: string;
  payload?: P;
}

const optionsShape = {
  priority: taskOptionsShape.priority,
  attempts: taskOptionsShape.attempts,
  backoff: taskOptionsShape.backoff,
  timeoutMs: taskOptionsShape.timeoutMs,
};

const nodeSchema = z
  .object({
    queue: z.string(),
    payload: z.unknown().optional(),
    children: z.array(z.unknown()).optional(),
    onChildFailure: z.enum(CHILD_FAILURE_POLICIES).optional(),
    ...optionsShape,
  })
  .strict();

const stepSchema = z
  .object({
    queue: z.string(),
    payload: z.unknown().optional(),
    ...optionsShape,
  })
  .strict();

/** A node checked and encoded, with its place in the tree. */
export interface PlannedNode {
  index: number;
  queue: string;
  payloadJson: string;
  priority: number;
  maxAttempts: number;
  backoffJson: string;
  timeoutMs: number | undefined;
  childPolicy: '' | ChildFailurePolicy;
  chained: boolean;
  /** Index of the parent; -1 for the root. */
  parent: number;
  children: number[];
}

function nodeError(path: string, message: string): ValidationError {
  return new ValidationError(`invalid flow: ${path}: ${message}`);
}

/** Checks a tree and lists its nodes, the root first, each parent before its children. */
export function planTree(root: unknown, maxPayloadBytes: number): PlannedNode[] {
  const nodes: PlannedNode[] = [];
  const pending: { input: unknown; parent: number; path: string }[] = [{ input: root, parent: -1, path: 'root' }];
  // Breadth first, iteratively: a deep tree (a long chain) needs no deep recursion.
  for (let at = 0; at < pending.length; at++) {
    const { input, parent, path } = pending[at]!;
    if (nodes.length >= MAX_FLOW_NODES) throw new ValidationError(`invalid flow: more than ${MAX_FLOW_NODES.toLocaleString('en')} nodes; split it into several flows`);
    const parsed = nodeSchema.safeParse(input);
    if (!parsed.success) throw nodeError(path, formatIssues(parsed.error.issues));
    const node = parsed.data;
    const planned = plan(node, path, maxPayloadBytes, nodes.length, parent);
    const children = node.children ?? [];
    if (children.length > 0) planned.childPolicy = node.onChildFailure ?? 'fail';
    else if (node.onChildFailure !== undefined) throw nodeError(path, 'onChildFailure is set but the node has no children');
    nodes.push(planned);
    if (parent >= 0) nodes[parent]!.children.push(planned.index);
    children.forEach((child, i) => pending.push({ input: child, parent: planned.index, path: `${path}.children[${i}]` }));
  }
  return nodes;
}

/** A chain as a tree: each step the only child of the next; the last step is the root. */
export function planChain(steps: unknown, maxPayloadBytes: number): PlannedNode[] {
  if (!Array.isArray(steps) || steps.length === 0) throw new ValidationError('invalid chain: pass a non-empty array of steps { queue, payload?, ...options }');
  if (steps.length > MAX_FLOW_NODES) throw new ValidationError(`invalid chain: more than ${MAX_FLOW_NODES.toLocaleString('en')} steps; split it into several chains`);
  const nodes: PlannedNode[] = [];
  for (let s = steps.length - 1; s >= 0; s--) {
    const path = `step ${s + 1}`;
    const parsed = stepSchema.safeParse(steps[s]);
    if (!parsed.success) throw new ValidationError(`invalid chain: ${path}: ${formatIssues(parsed.error.issues)}`);
    if (s > 0 && parsed.data.payload !== undefined) {
      throw new ValidationError(`invalid chain: ${path} has a payload, which would shadow the previous step's result: a step after the first gets that result as its payload (task.previous)`);
    }
    const index = nodes.length;
    const node = plan(parsed.data, path, maxPayloadBytes, index, index - 1);
    if (s > 0) {
      node.childPolicy = 'fail';
      node.chained = true;
    }
    if (index > 0) nodes[index - 1]!.children.push(index);
    nodes.push(node);
  }
  return nodes;
}

function plan(node: { queue: string; payload?: unknown } & FlowTaskOptions, path: string, maxPayloadBytes: number, index: number, parent: number): PlannedNode {
  try {
    validateName('queue', node.queue);
  } catch (error) {
    throw nodeError(path, (error as Error).message);
  }
  let payloadJson: string;
  try {
    payloadJson = encodeJson(node.payload ?? null, 'payload', maxPayloadBytes);
  } catch (error) {
    throw nodeError(path, (error as Error).message);
  }
  return {
    index,
    queue: node.queue,
    payloadJson,
    priority: node.priority ?? 0,
    maxAttempts: node.attempts ?? 3,
    backoffJson: node.backoff ? JSON.stringify(node.backoff) : '',
    timeoutMs: node.timeoutMs,
    childPolicy: '',
    chained: false,
    parent,
    children: [],
  };
}
