/**
 * Flows: tasks that wait for other tasks, across queues (and shards).
 *
 * Responsible for: creating a tree (`add`) or a chain (`chain`) so that, from the caller's
 * view, it exists whole or not at all: ids are reserved on each queue, every node is
 * written not claimable (state `dependencies`), the root last (the commit), then the leaves
 * are released; a crash before the root is written leaves nothing claimable (the sweep
 * deletes the remains later), a crash after it is finished by the sweep. Also reading a
 * flow's tree with states, and the handles whose `result()` awaits the root. What happens
 * when children finish is the hand-over's (hand-over.ts) and the scripts'.
 */
import { resolveQueueOptions, type ConnectionOption } from '../config.js';
import { TaskFailedError } from '../errors.js';
import { queuesKey, TASK_FIELDS as F } from '../redis/keys.js';
import { closeClient, openClient, type OwnedClient } from '../redis/connection.js';
import * as flowScripts from '../redis/flow-scripts.js';
import { runScript } from '../redis/scripts.js';
import { Queue, type ResultOptions } from '../queue/queue.js';
import { decodeTask, type TaskInfo } from '../queue/task.js';
import { decodeOutcome, type ChildOutcome } from './children.js';
import { FlowHandOver, parseRef, refOf } from './hand-over.js';
import { planChain, planTree, type ChainStep, type FlowNode, type PlannedNode } from './flow-tree.js';

export interface FlowsOptions {
  /** Where Redis is (as for Queue). Default: REDIS_URL, else 127.0.0.1:6379. */
  connection?: ConnectionOption;
  /** Key prefix (as for Queue). Default 'errand'. */
  prefix?: string;
  /** Largest payload of one node, in bytes (JSON). Default 1 MiB. */
  maxPayloadBytes?: number;
}

/** Where a node of a created flow is. */
export interface FlowNodeRef {
  queue: string;
  id: string;
  children: FlowNodeRef[];
}

/** A node of a flow with its state, as `Flows.get` reads it. */
export interface FlowTreeNode extends ChildOutcome {
  /** The task as stored (absent when it is gone: removed, or trimmed by retention). */
  task?: TaskInfo;
  /** Its parent, when it is a flow child. */
  parent?: { queue: string; id: string };
  children: FlowTreeNode[];
}

/** Arguments per flow-create call at most (a node takes 11 plus one per child). */
const CREATE_ARGS = 20_000;
/** Ids per flow-release call. */
const RELEASE_IDS = 5_000;

/** A created flow: its root, whose result is the flow's. */
export class Flow<R = unknown> {
  constructor(
    private readonly flows: Flows,
    /** The root's queue and id, and every node below. */
    readonly tree: FlowNodeRef,
    /** For a chain: its steps in order (the last is the root). */
    readonly steps?: readonly FlowNodeRef[],
  ) {}

  get queue(): string {
    return this.tree.queue;
  }

  get id(): string {
    return this.tree.id;
  }

  /**
   * The root's result, once it completed. Rejects like `task.result()`; a chain whose step
   * failed rejects with a TaskFailedError whose message names that step.
   */
  async result(options?: ResultOptions): Promise<R> {
    try {
      return (await this.flows.queue(this.queue).result(this.id, options)) as R;
    } catch (error) {
      if (!this.steps || !(error instanceof TaskFailedError)) throw error;
      const info = error.error as typeof error.error & { child?: string; cause?: string };
      const failed = info.name === 'ChildFailedError' && info.child ? parseRef(info.child) : { queue: this.queue, id: this.id };
      const step = this.steps.findIndex((s) => s.queue === failed.queue && s.id === failed.id);
      const cause = info.name === 'ChildFailedError' ? (info.cause ?? info.message) : `${info.name}: ${info.message}`;
      throw new TaskFailedError(this.id, { name: 'ChainStepFailedError', message: `chain step ${step + 1} of ${this.steps.length} (${failed.queue}/${failed.id}) failed: ${cause}` });
    }
  }
}

export class Flows {
  readonly prefix: string;
  private readonly maxPayloadBytes: number;
  private readonly connection: OwnedClient;
  private readonly handOver: FlowHandOver;
  private readonly queues = new Map<string, Queue>();

  constructor(options: FlowsOptions = {}) {
    const resolved = resolveQueueOptions({
      ...(options.connection !== undefined ? { connection: options.connection } : {}),
      ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
      ...(options.maxPayloadBytes !== undefined ? { maxPayloadBytes: options.maxPayloadBytes } : {}),
    });
    this.prefix = resolved.prefix;
    this.maxPayloadBytes = resolved.maxPayloadBytes;
    this.connection = openClient(resolved.connection);
    if (this.connection.owned) this.connection.client.on('error', () => {});
    this.handOver = new FlowHandOver(() => this.connection.client, this.prefix);
  }

  /** The command client. */
  get client() {
    return this.connection.client;
  }

  /** A Queue on this connection (kept for result waits and admin actions). */
  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.client, prefix: this.prefix });
      this.queues.set(name, queue);
    }
    return queue;
  }

  /**
   * Creates a tree: each node runs once all its children reached a final state. At most
   * 100,000 nodes per call (MAX_FLOW_NODES). A bad node (a queue name, a payload, an
   * option) is refused with a ValidationError naming it, and nothing is written.
   */
  async add<R = unknown>(tree: FlowNode): Promise<Flow<R>> {
    const nodes = planTree(tree, this.maxPayloadBytes);
    const refs = await this.create(nodes);
    return new Flow<R>(this, refs[0]!);
  }

  /**
   * Creates a chain: each step runs after the one before it completed, with that step's
   * result as its payload (`task.previous`); a step that fails fails the rest of the chain.
   * Only the first step may have a payload.
   */
  async chain<R = unknown>(steps: readonly ChainStep[]): Promise<Flow<R>> {
    const nodes = planChain(steps, this.maxPayloadBytes);
    const refs = await this.create(nodes);
    // Nodes run from the root (the last step) down: the steps in order are the reverse.
    const ordered: FlowNodeRef[] = [];
    for (let node: FlowNodeRef | undefined = refs[0]; node; node = node.children[0]) ordered.unshift(node);
    return new Flow<R>(this, refs[0]!, ordered);
  }

  /**
   * A node of a flow and its descendants with their states (breadth first, at most
   * `maxNodes`, default 1,000: deeper nodes are left out), and its parent; null when the
   * task does not exist.
   */
  async get(queue: string, id: string, { maxNodes = 1_000 }: { maxNodes?: number } = {}): Promise<FlowTreeNode | null> {
    const client = this.client;
    const rootHash = await client.hgetall(this.handOver.keys(queue).task(id));
    const rootTask = decodeTask(queue, id, rootHash);
    if (!rootTask) return null;
    const root: FlowTreeNode = { queue, id, state: rootTask.state, task: rootTask, children: [] };
    const parentRef = rootHash[F.parent];
    if (parentRef) root.parent = parseRef(parentRef);
    let level = [root];
    let count = 1;
    while (level.length && count < maxNodes) {
      // Separate commands, sent together: on a cluster the nodes' keys are in different slots.
      const replies = await Promise.all(level.map((node) => client.hgetall(this.handOver.keys(node.queue).deps(node.id))));
      const next: FlowTreeNode[] = [];
      level.forEach((node, i) => {
        for (const [ref, entry] of Object.entries(replies[i] ?? {})) {
          if (count >= maxNodes) break;
          const child: FlowTreeNode = { ...decodeOutcome(ref, entry), parent: { queue: node.queue, id: node.id }, children: [] };
          node.children.push(child);
          next.push(child);
          count++;
        }
      });
      if (next.length) {
        const hashes = await Promise.all(next.map((node) => client.hgetall(this.handOver.keys(node.queue).task(node.id))));
        next.forEach((node, i) => {
          const task = decodeTask(node.queue, node.id, hashes[i] ?? {});
          if (task) {
            node.task = task;
            node.state = task.state; // live: the recorded outcome is the last final one
          }
        });
      }
      level = next;
    }
    return root;
  }

  /**
   * Cancels a flow node that has not finished, and its pending descendants (a parent already
   * cancelled: its cascade runs again, finishing one cut short).
   */
  async cancel(queue: string, id: string): Promise<void> {
    await this.queue(queue).cancel(id);
  }

  /** Removes a flow node and its whole tree below it. */
  async remove(queue: string, id: string): Promise<void> {
    await this.queue(queue).remove(id);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    await closeClient(this.connection);
  }

  /** Writes a planned flow: ids, the nodes below the root, the root (the commit), then the leaves' release. */
  private async create(nodes: PlannedNode[]): Promise<FlowNodeRef[]> {
    const client = this.client;
    const byQueue = new Map<string, number[]>();
    for (const node of nodes) {
      const list = byQueue.get(node.queue) ?? [];
      list.push(node.index);
      byQueue.set(node.queue, list);
    }
    const ids: string[] = new Array(nodes.length);
    await Promise.all(
      [...byQueue].map(async ([queue, indices]) => {
        const first = await runScript(client, flowScripts.reserveIds(this.handOver.keys(queue), indices.length));
        indices.forEach((index, n) => (ids[index] = (first + BigInt(n)).toString()));
      }),
    );
    const refs = nodes.map((node) => refOf(node.queue, ids[node.index]!));
    const record = (node: PlannedNode): flowScripts.FlowNodeRecord => ({
      id: ids[node.index]!,
      payloadJson: node.payloadJson,
      priority: node.priority,
      maxAttempts: node.maxAttempts,
      backoffJson: node.backoffJson,
      timeoutMs: node.timeoutMs,
      parent: node.parent >= 0 ? refs[node.parent]! : '',
      root: node.index === 0 ? '' : refs[0]!,
      childPolicy: node.childPolicy,
      chained: node.chained,
      children: node.children.map((c) => refs[c]!),
    });
    await client.sadd(queuesKey(this.prefix), ...byQueue.keys());
    // Below the root: every node waits, none is claimable yet.
    await Promise.all(
      [...byQueue].map(async ([queue, indices]) => {
        let batch: flowScripts.FlowNodeRecord[] = [];
        let args = 0;
        const send = async () => {
          if (!batch.length) return;
          const taken = await runScript(client, flowScripts.createNodes(this.handOver.keys(queue), batch));
          if (taken !== undefined) throw new Error(`flow node id ${queue}/${taken} was taken (a bug in Errand: please report it)`);
          batch = [];
          args = 0;
        };
        for (const index of indices) {
          if (index === 0) continue;
          const node = nodes[index]!;
          if (args + 11 + node.children.length > CREATE_ARGS) await send();
          batch.push(record(node));
          args += 11 + node.children.length;
        }
        await send();
      }),
    );
    // The commit: once the root exists the flow is whole (the sweep finishes a release cut short).
    const root = nodes[0]!;
    const taken = await runScript(client, flowScripts.createNodes(this.handOver.keys(root.queue), [record(root)]));
    if (taken !== undefined) throw new Error(`flow node id ${root.queue}/${taken} was taken (a bug in Errand: please report it)`);
    // Release the leaves (the nodes with children below the root only leave `held`).
    const leaves = new Map<string, string[]>();
    for (const node of nodes) {
      if (node.children.length && node.index === 0) continue;
      const list = leaves.get(node.queue) ?? [];
      list.push(ids[node.index]!);
      leaves.set(node.queue, list);
    }
    await Promise.all(
      [...leaves].map(async ([queue, leafIds]) => {
        for (let i = 0; i < leafIds.length; i += RELEASE_IDS) {
          await runScript(client, flowScripts.releaseNodes(this.handOver.keys(queue), leafIds.slice(i, i + RELEASE_IDS)));
        }
      }),
    );
    // The refs as a tree.
    const tree: FlowNodeRef[] = nodes.map((node) => ({ queue: node.queue, id: ids[node.index]!, children: [] }));
    for (const node of nodes) if (node.parent >= 0) tree[node.parent]!.children.push(tree[node.index]!);
    return tree;
  }
}
