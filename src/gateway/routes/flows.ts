/**
 * Flow routes: create a flow (a tree of tasks across queues, each parent running after its
 * children) or a chain, and read a flow node's tree with the state of every node. A token
 * limited to some queues reaches a flow only if it lists every queue the flow touches.
 */
import { z } from 'zod';
import { taskOptionsShape } from '../../config.js';
import { TaskNotFoundError, ValidationError } from '../../errors.js';
import type { FlowNodeRef, FlowTreeNode } from '../../flows/flows.js';
import { CHILD_FAILURE_POLICIES, MAX_FLOW_NODES, type FlowNode } from '../../flows/flow-tree.js';
import { TASK_STATES } from '../../queue/states.js';
import type { RoutePlugin } from '../context.js';
import { errorSchema, nameSchema, taskParams, type ZodTypeProvider } from '../schema.js';
import { queuesOfTree } from '../flow-reach.js';
import { assertResource, type Identity } from '../scopes.js';

const options = {
  priority: taskOptionsShape.priority,
  attempts: taskOptionsShape.attempts,
  backoff: taskOptionsShape.backoff,
  timeoutMs: taskOptionsShape.timeoutMs,
};

/**
 * Levels of a tree, and steps of a chain, one request may create at most: the answer and a
 * later GET carry the tree nested, and JSON nests only so deep (a chain of 5,000 steps was
 * written, then could not be answered).
 */
export const MAX_HTTP_FLOW_LEVELS = 1_000;

const flowNodeSchema = z
  .object({
    queue: nameSchema('queue'),
    payload: z.unknown().optional(),
    onChildFailure: z.enum(CHILD_FAILURE_POLICIES).optional().meta({ description: "a child that ends failed or cancelled: 'fail' (default) fails this task and cancels its other children; 'ignore' leaves it out of the view; 'continue' runs with its error in the view" }),
    ...options,
    // Each child is a FlowNode too, checked by the library without recursion (a deep tree
    // would overflow a recursive schema's stack: a 500 where a 400 is due).
    children: z
      .array(z.unknown())
      .optional()
      .meta({ description: `tasks (each a FlowNode) that must reach a final state before this one runs (any queue; ${MAX_HTTP_FLOW_LEVELS.toLocaleString('en')} levels and ${MAX_FLOW_NODES.toLocaleString('en')} nodes per flow at most)` }),
  })
  .strict()
  .meta({ id: 'FlowNode' });

const chainSchema = z
  .object({
    chain: z
      .array(z.object({ queue: nameSchema('queue'), payload: z.unknown().optional(), ...options }).strict())
      .min(1)
      .max(MAX_HTTP_FLOW_LEVELS)
      .meta({ description: "steps in order; each step after the first gets the previous step's result as its payload, so only the first may have one" }),
  })
  .strict();

interface RefBody {
  queue: string;
  id: string;
  children: RefBody[];
}
const refSchema: z.ZodType<RefBody> = z
  .object({
    queue: z.string(),
    id: z.string(),
    get children() {
      return z.array(refSchema);
    },
  })
  .meta({ id: 'FlowRef' });

interface TreeBody {
  queue: string;
  id: string;
  state: string;
  result?: unknown;
  error?: { name: string; message: string };
  parent?: { queue: string; id: string };
  children: TreeBody[];
}
const treeSchema: z.ZodType<TreeBody> = z
  .object({
    queue: z.string(),
    id: z.string(),
    state: z.enum([...TASK_STATES, 'pending']).meta({ description: "the node's state ('pending': a child whose task is gone before it finished)" }),
    result: z.unknown().optional(),
    error: z.object({ name: z.string(), message: z.string() }).optional(),
    parent: z.object({ queue: z.string(), id: z.string() }).optional(),
    get children() {
      return z.array(treeSchema);
    },
  })
  .meta({ id: 'FlowTree' });

const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema, 503: errorSchema };

/** A token limited to some queues may create or read a flow only if it lists every queue of it. */
function assertQueues(identity: Identity, queues: Iterable<string>): void {
  for (const queue of new Set(queues)) assertResource(identity, 'queue', queue);
}

/**
 * The queues a tree names (to check a limited token before anything is written), refusing a
 * tree deeper than MAX_HTTP_FLOW_LEVELS. Nodes are checked as FlowNodes by the library.
 */
function queuesOfBody(root: unknown): string[] {
  const queues: string[] = [];
  const pending: { node: unknown; level: number }[] = [{ node: root, level: 1 }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    if (next.level > MAX_HTTP_FLOW_LEVELS) {
      throw new ValidationError(`invalid flow: deeper than ${MAX_HTTP_FLOW_LEVELS.toLocaleString('en')} levels over HTTP; split it into several flows`);
    }
    const node = next.node as { queue?: unknown; children?: unknown } | null;
    if (typeof node?.queue === 'string') queues.push(node.queue);
    if (Array.isArray(node?.children)) for (const child of node.children) pending.push({ node: child, level: next.level + 1 });
  }
  return queues;
}

function refs(node: FlowNodeRef): RefBody {
  return { queue: node.queue, id: node.id, children: node.children.map(refs) };
}

function tree(node: FlowTreeNode): TreeBody {
  const out: TreeBody = { queue: node.queue, id: node.id, state: node.state, children: node.children.map(tree) };
  const result = node.task ? node.task.result : node.result;
  const error = node.task ? node.task.error : node.error;
  if (result !== undefined) out.result = result;
  if (error) out.error = { name: error.name, message: error.message };
  if (node.parent) out.parent = node.parent;
  return out;
}

export const flowRoutes: RoutePlugin = (ctx) => async (instance) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  const tags = ['flows'];

  const createdSchema = z.object({ queue: z.string(), id: z.string(), tree: refSchema }).meta({ id: 'FlowCreated' });

  app.post(
    '/flows',
    {
      config: { scope: 'enqueue', resource: 'handler' },
      schema: {
        summary: 'Create a flow: a tree of tasks across queues',
        description: `Each node runs once all its children reached a final state (its handler reads their results). At most ${MAX_FLOW_NODES.toLocaleString('en')} nodes; a bad node is refused and nothing is created.`,
        tags,
        body: flowNodeSchema,
        response: { 201: createdSchema, ...errors, 413: errorSchema },
      },
    },
    async (request, reply) => {
      assertQueues(request.identity, queuesOfBody(request.body));
      const flow = await ctx.admin.flows.add(request.body as FlowNode);
      return reply.status(201).send({ queue: flow.queue, id: flow.id, tree: refs(flow.tree) });
    },
  );

  app.post(
    '/flows/chain',
    {
      config: { scope: 'enqueue', resource: 'handler' },
      schema: {
        summary: 'Create a chain: steps run one after another, each given the previous result',
        description: "The answer's tree is the chain as a flow: its root is the last step, whose only child is the step before it, and so on.",
        tags,
        body: chainSchema,
        response: { 201: createdSchema, ...errors, 413: errorSchema },
      },
    },
    async (request, reply) => {
      assertQueues(request.identity, request.body.chain.map((step) => step.queue));
      const flow = await ctx.admin.flows.chain(request.body.chain);
      return reply.status(201).send({ queue: flow.queue, id: flow.id, tree: refs(flow.tree) });
    },
  );

  app.get(
    '/flows/:queue/:id',
    {
      config: { scope: 'read' },
      schema: {
        summary: "A flow node's tree with the state of every node",
        description: 'The node, its parent (if it is a child) and its descendants, breadth first, at most 1,000 nodes.',
        tags,
        params: taskParams,
        response: { 200: treeSchema, ...errors },
      },
    },
    async (request) => {
      const { queue, id } = request.params;
      assertQueues(request.identity, [queue]);
      const found = await ctx.admin.flows.get(queue, id);
      if (!found) throw new TaskNotFoundError(queue, id);
      // Its parent and children may be on other queues: all of them, or nothing.
      assertQueues(request.identity, queuesOfTree(found));
      return tree(found);
    },
  );
};
