/**
 * The hand-over from a flow child to its parent, across slots (and shards) without a
 * cross-slot script.
 *
 * Responsible for: applying a child's notice (left in its own slot by its final transition,
 * lib/tree.lua) to its parent's slot with flow-record, which is idempotent, then what that
 * leads to (cancelling the pending siblings of a child that failed a 'fail' parent, retrying
 * them - and their subtrees - when that child was retried, recording a child gone by then
 * as failed so its parent does not wait for it for good, the parent's own notice to its
 * parent), and only then deleting the notice (flow-clear, only if no newer one replaced
 * it). A process that dies anywhere in between leaves the notice in place: the sweep (every
 * worker heartbeat) applies it again, which changes nothing twice. Also the cascades of
 * admin actions on a parent: cancel its pending descendants, retry its subtree, remove its
 * tree.
 */
import { QueueKeys, STATE_CODES, TASK_FIELDS as F } from '../redis/keys.js';
import * as flowScripts from '../redis/flow-scripts.js';
import * as queueScripts from '../redis/queue-scripts.js';
import { runScript, type RedisClient } from '../redis/scripts.js';
import { Status } from '../redis/status.js';

/** Notices per flow-record and flow-clear call. */
const RECORD_CHUNK = 1_000;
/** Notices one sweep applies at most (the rest at the next). */
const SWEEP_NOTICES = 200;
/** A node still unreleased after this long belongs to an `add` that stopped half-way. */
export const STALE_NODE_MS = 10_000;
/** A node of an `add` that never committed (no root) is deleted after this long. */
const ABANDONED_NODE_MS = 10 * 60_000;

/** `<queue>|<id>` → its parts. */
export function parseRef(ref: string): { queue: string; id: string } {
  const bar = ref.indexOf('|');
  return { queue: ref.slice(0, bar), id: ref.slice(bar + 1) };
}

/** A notice (`<parent queue>|<parent id>|<version>|<outcome>`, see lib/tree.lua) → its parts. */
export function parseNotice(notice: string): { parentQueue: string; parentId: string; version: number; outcome: string } {
  const first = notice.indexOf('|');
  const second = notice.indexOf('|', first + 1);
  const third = notice.indexOf('|', second + 1);
  return { parentQueue: notice.slice(0, first), parentId: notice.slice(first + 1, second), version: Number(notice.slice(second + 1, third)), outcome: notice.slice(third + 1) };
}

/** The state of a parent's `deps` entry (`<version>:<state>`, flow-record.lua); undefined when there is none. */
function entryState(entry: string | null): string | undefined {
  return entry === null ? undefined : entry.slice(entry.indexOf(':') + 1);
}

export function refOf(queue: string, id: string): string {
  return `${queue}|${id}`;
}

export class FlowHandOver {
  private readonly keyCache = new Map<string, QueueKeys>();

  constructor(
    private readonly client: () => RedisClient,
    readonly prefix: string,
  ) {}

  keys(queue: string): QueueKeys {
    let k = this.keyCache.get(queue);
    if (!k) {
      k = new QueueKeys(this.prefix, queue);
      this.keyCache.set(queue, k);
    }
    return k;
  }

  /** Applies the notices these tasks of `queue` left (those that left one). */
  async apply(queue: string, ids: readonly string[]): Promise<void> {
    if (!ids.length) return;
    const notices = await this.client().hmget(this.keys(queue).notices, ...ids);
    const found: { childId: string; notice: string }[] = [];
    notices.forEach((notice, i) => notice && found.push({ childId: ids[i]!, notice }));
    await this.applyNotices(queue, found);
  }

  /**
   * Notices the caller knows as written (a completion's answer gave their numbers): applied
   * without reading them back. One replaced meanwhile is stale: the parent ignores it, and
   * flow-clear leaves the newer one.
   */
  applyKnown(queue: string, notices: readonly { childId: string; notice: string }[]): Promise<void> {
    return this.applyNotices(queue, notices);
  }

  /**
   * Notices of children of `queue`: recorded on their parents (one call per parent and
   * chunk), followed up, then deleted (unless replaced meanwhile), in one call.
   */
  private async applyNotices(queue: string, notices: readonly { childId: string; notice: string }[]): Promise<void> {
    if (!notices.length) return;
    const byParent = new Map<string, { parentQueue: string; parentId: string; notices: flowScripts.ChildNotice[] }>();
    for (const { childId, notice } of notices) {
      const { parentQueue, parentId, version, outcome } = parseNotice(notice);
      const key = refOf(parentQueue, parentId);
      let group = byParent.get(key);
      if (!group) byParent.set(key, (group = { parentQueue, parentId, notices: [] }));
      group.notices.push({ child: refOf(queue, childId), version, outcome });
    }
    await Promise.all(
      [...byParent.values()].map(async ({ parentQueue, parentId, notices: batch }) => {
        for (let i = 0; i < batch.length; i += RECORD_CHUNK) {
          await this.record(parentQueue, parentId, batch.slice(i, i + RECORD_CHUNK));
        }
      }),
    );
    for (let i = 0; i < notices.length; i += RECORD_CHUNK) {
      await runScript(this.client(), flowScripts.clearNotices(this.keys(queue), notices.slice(i, i + RECORD_CHUNK)));
    }
  }

  /**
   * Retries a node (one not final changes nothing), then, if it is a parent that never ran,
   * its children that did not complete (retry.lua: it waits for them again), depth first;
   * applies its notice.
   */
  async retryNode(ref: string, parent?: { queue: string; id: string }): Promise<void> {
    const { queue, id } = parseRef(ref);
    const reply = await runScript(this.client(), queueScripts.retry(this.keys(queue), id));
    if (reply.status === Status.TASK_NOT_FOUND && parent) return this.reportGone(ref, parent);
    await this.afterRetry(queue, id, reply.children);
  }

  /** After a node was retried: the children its retry answered are retried in turn; then its notice is applied. */
  async afterRetry(queue: string, id: string, children: readonly string[]): Promise<void> {
    await this.retryChildren({ queue, id }, children);
    await this.apply(queue, [id]);
  }

  /** Records notices on their parent (one flow-record call), then what they lead to. */
  private async record(parentQueue: string, parentId: string, notices: readonly flowScripts.ChildNotice[]): Promise<void> {
    const reply = await runScript(this.client(), flowScripts.recordOutcomes(this.keys(parentQueue), parentId, notices));
    for (const ref of reply.cancel) await this.cancelNode(ref);
    await this.retryChildren({ queue: parentQueue, id: parentId }, reply.retry);
    if (reply.upward) await this.apply(parentQueue, [parentId]);
  }

  /**
   * Retries the children a parent waits for again, each only while the parent still waits
   * for its children and the child's entry still says 'R' (to be retried): a parent failed
   * meanwhile (a gone sibling's record, say) had them marked cancelled instead, and one
   * cancelled meanwhile is not waiting; their children are not run.
   */
  private async retryChildren(parent: { queue: string; id: string }, refs: readonly string[]): Promise<void> {
    const keys = this.keys(parent.queue);
    for (const ref of refs) {
      const [state, entry] = await Promise.all([this.client().hget(keys.task(parent.id), F.state), this.client().hget(keys.deps(parent.id), ref)]);
      if (state === STATE_CODES.dependencies && entryState(entry) === 'R') await this.retryNode(ref, parent);
    }
  }

  /**
   * A child its parent waits for again (the parent's retry, or a failed sibling's, re-opened
   * it) that no longer exists - removed, or trimmed by retention while cancelled or failed -
   * would never report: the parent would wait for it for good. It is recorded on the parent
   * as failed instead, with an error saying why: under the 'fail' policy the parent fails
   * again naming it (add the flow again); under the others it goes on without it. The entry
   * is read first for its version (the child, gone, sends no newer notice).
   */
  private async reportGone(ref: string, parent: { queue: string; id: string }): Promise<void> {
    const entry = await this.client().hget(this.keys(parent.queue).deps(parent.id), ref);
    // Only a child still to be retried: a pending one ('') has its notice on the way (its
    // retry came, then it finished and went), a final one was recorded, and either's real
    // notice must not be outranked by this one.
    if (entryState(entry) !== 'R') return;
    const version = Number(entry!.slice(0, entry!.indexOf(':'))) || 0;
    const { queue, id } = parseRef(ref);
    const error = { name: 'TaskGoneError', message: `task "${id}" of queue "${queue}" is gone (removed, or past its retention) and cannot run again` };
    await this.record(parent.queue, parent.id, [{ child: ref, version: version + 1, outcome: STATE_CODES.failed + JSON.stringify(error) }]);
  }

  /** Cancels a node if it has not finished, then its pending descendants; applies its notice. */
  async cancelNode(ref: string): Promise<void> {
    const { queue, id } = parseRef(ref);
    const reply = await runScript(this.client(), queueScripts.cancel(this.keys(queue), id));
    if (reply.status === Status.OK) await this.cancelDescendants(queue, id);
  }

  /** After a parent was cancelled: its children not yet final are cancelled too (depth first). */
  async cancelDescendants(queue: string, id: string): Promise<void> {
    const entries = await this.client().hgetall(this.keys(queue).deps(id));
    for (const [ref, entry] of Object.entries(entries)) {
      // `<version>:<state>`: '' pending, 'X' and 'R' not finished either (flow-record.lua).
      const state = entry.slice(entry.indexOf(':') + 1);
      if (state === '' || state === 'X' || state === 'R') await this.cancelNode(ref);
    }
    // Its own notice to its parent, if it is a child (cancelled: the parent records it).
    await this.apply(queue, [id]);
  }

  /** Removes a task and its whole tree of descendants (children first read, then each removed). */
  async removeTree(queue: string, id: string): Promise<boolean> {
    const children = await this.client().hkeys(this.keys(queue).deps(id));
    const reply = await runScript(this.client(), queueScripts.remove(this.keys(queue), id));
    for (const ref of children) {
      const child = parseRef(ref);
      await this.removeTree(child.queue, child.id);
    }
    await this.apply(queue, [id]);
    return reply.status === Status.OK;
  }

  /**
   * The sweep: applies notices left by a process that died before applying them, and
   * finishes the release of flows whose `add` stopped after committing (their root exists);
   * nodes of an `add` that never committed are removed after a while.
   */
  async sweep(queue: string): Promise<void> {
    const client = this.client();
    const k = this.keys(queue);
    // Two reads sent together; most beats of most queues find nothing to do.
    const [noticeCount, unreleased] = await Promise.all([client.hlen(k.notices), client.zcard(k.held)]);
    if (noticeCount > 0) {
      const [, flat] = await client.hscan(k.notices, '0', 'COUNT', SWEEP_NOTICES);
      const found: { childId: string; notice: string }[] = [];
      for (let i = 0; i < flat.length; i += 2) found.push({ childId: flat[i]!, notice: flat[i + 1]! });
      await this.applyNotices(queue, found);
    }
    if (unreleased === 0) return;
    const time = await client.time();
    const nowMs = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    const stale = await client.zrangebyscore(k.held, '-inf', nowMs - STALE_NODE_MS, 'WITHSCORES', 'LIMIT', 0, 100);
    for (let i = 0; i < stale.length; i += 2) {
      const id = stale[i]!;
      const root = await client.hget(k.task(id), F.root);
      const r = root ? parseRef(root) : undefined;
      // Its root exists (the add committed): release it (a node gone, or waiting for children, only leaves `held`).
      if (!r || (await client.exists(this.keys(r.queue).task(r.id)))) await runScript(client, flowScripts.releaseNodes(k, [id]));
      // Never committed: every node of it is in `held`, each removed without a word to its parent (never released).
      else if (Number(stale[i + 1]) < nowMs - ABANDONED_NODE_MS) await runScript(client, queueScripts.remove(k, id, { abandoned: true }));
    }
  }
}
