/**
 * Subscriptions on a Redis Cluster, on connections Errand keeps to the nodes themselves, so
 * that a subscription that moves is noticed, made again and reported.
 *
 * Responsible for: shard channels (SSUBSCRIBE, a queue's events: on the master that owns
 * the channel's slot) and classic channels and patterns (SUBSCRIBE/PSUBSCRIBE: on one
 * master, since a cluster forwards classic messages to every node); one connection per
 * node in use; noticing when a node is lost (its connection closes: a crash, a failover)
 * or a shard channel's slot moves (Redis unsubscribes it, which ioredis reports as an
 * error on that connection); finding the channel's node again from a fresh slot map,
 * retrying until one answers, subscribing there, and then telling the owner which
 * subscriptions were made again (`onResubscribed`): messages published in between were
 * missed, so listeners read what they need again.
 *
 * ioredis's own cluster subscriber moves a subscription to another node without any
 * event; that is why this exists.
 */
import { Redis, type Cluster } from 'ioredis';
import { answeredWhileClosing, whenReady } from './connection.js';
import { slotOf } from './slot.js';

export type SubscriptionKind = 'shard' | 'channel' | 'pattern';

export interface ClusterSubscriptionHandlers {
  /** A message; `pattern` is set for pattern subscriptions. */
  message(kind: SubscriptionKind, channel: string, message: string, pattern?: string): void;
  /** These subscriptions were lost and are active again (messages in between were missed). */
  resubscribed(subscriptions: readonly { kind: SubscriptionKind; name: string }[]): void;
}

interface Entry {
  kind: SubscriptionKind;
  name: string;
  /** The node it is subscribed on, when it is. */
  node: string | undefined;
  /** Resolves once it is subscribed for the first time. */
  ready: Promise<void>;
  resolveReady(): void;
  rejectReady(error: Error): void;
  /** It was subscribed once, then lost: report it when it is subscribed again. */
  lost: boolean;
}

/** How long a lost subscription waits before it looks for its node again, at most. */
const MAX_RETRY_MS = 1_000;

function entryKey(kind: SubscriptionKind, name: string): string {
  return `${kind}:${name}`;
}

export class ClusterSubscriptions {
  private readonly entries = new Map<string, Entry>();
  private readonly connections = new Map<string, Redis>();
  private placing: Promise<void> | undefined;
  private placeAgain = false;
  private closed = false;

  constructor(
    /** The cluster's command client: its slot map says where channels live. */
    private readonly cluster: Cluster,
    private readonly handlers: ClusterSubscriptionHandlers,
  ) {}

  /** Subscribes (once per kind and name); resolves when Redis confirmed it. */
  subscribe(kind: SubscriptionKind, name: string): Promise<void> {
    const key = entryKey(kind, name);
    let entry = this.entries.get(key);
    if (!entry) {
      let resolveReady!: () => void;
      let rejectReady!: (error: Error) => void;
      const ready = new Promise<void>((resolve, reject) => ((resolveReady = resolve), (rejectReady = reject)));
      ready.catch(() => {}); // rejected only by close(); callers who await it see that
      entry = { kind, name, node: undefined, ready, resolveReady, rejectReady, lost: false };
      this.entries.set(key, entry);
      this.place();
    }
    return entry.ready;
  }

  async unsubscribe(kind: SubscriptionKind, name: string): Promise<void> {
    const key = entryKey(kind, name);
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    const connection = entry.node ? this.connections.get(entry.node) : undefined;
    if (!connection || connection.status !== 'ready') return;
    const command = kind === 'shard' ? 'sunsubscribe' : kind === 'pattern' ? 'punsubscribe' : 'unsubscribe';
    await answeredWhileClosing(connection[command](name)); // not waited for past a bound: a node may answer nothing
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.entries.values()) entry.rejectReady(new Error('Connection is closed.'));
    this.entries.clear();
    for (const connection of this.connections.values()) connection.disconnect();
    this.connections.clear();
    await this.placing?.catch(() => {});
  }

  // ---- placing subscriptions on nodes ----

  /** Subscribes every entry that is not (or no longer) subscribed; one pass at a time. */
  private place(): void {
    if (this.placing) {
      this.placeAgain = true;
      return;
    }
    this.placing = this.placeAll().finally(() => {
      this.placing = undefined;
      if (this.placeAgain && !this.closed) {
        this.placeAgain = false;
        this.place();
      }
    });
  }

  private async placeAll(): Promise<void> {
    let delayMs = 50;
    let refresh = false;
    while (!this.closed) {
      const pending = [...this.entries.values()].filter((entry) => entry.node === undefined);
      if (!pending.length) return;
      if (refresh) await this.refreshSlots();
      await whenReady(this.cluster).catch(() => {});
      const done: Entry[] = [];
      await Promise.all(
        pending.map(async (entry) => {
          const node = this.nodeFor(entry);
          if (!node) return;
          try {
            const connection = this.connectionTo(node);
            await whenReady(connection);
            const command = entry.kind === 'shard' ? 'ssubscribe' : entry.kind === 'pattern' ? 'psubscribe' : 'subscribe';
            await connection[command](entry.name);
            // Still wanted, and its connection still the one for that node (not lost meanwhile)?
            if (this.entries.get(entryKey(entry.kind, entry.name)) !== entry || this.connections.get(node) !== connection) return;
            entry.node = node;
            done.push(entry);
          } catch {
            // The node is down, or no longer owns the slot (MOVED): look again below.
          }
        }),
      );
      const back = done.filter((entry) => entry.lost);
      for (const entry of done) {
        entry.lost = false;
        entry.resolveReady();
      }
      if (back.length && !this.closed) this.handlers.resubscribed(back.map(({ kind, name }) => ({ kind, name })));
      if (done.length === pending.length) continue; // more may have been added meanwhile
      refresh = true;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(delayMs * 2, MAX_RETRY_MS);
    }
  }

  /** The node for an entry: its slot's master for a shard channel, else the first master. */
  private nodeFor(entry: Entry): string | undefined {
    if (entry.kind === 'shard') return this.cluster.slots[slotOf(entry.name)]?.[0];
    // Classic channels go to one node: the cluster forwards every classic message to all.
    const masters = new Set<string>();
    for (const owners of this.cluster.slots) if (owners?.[0]) masters.add(owners[0]);
    return [...masters].sort()[0];
  }

  private refreshSlots(): Promise<void> {
    return new Promise((resolve) => this.cluster.refreshSlotsCache(() => resolve()));
  }

  private connectionTo(node: string): Redis {
    let connection = this.connections.get(node);
    if (connection) return connection;
    const at = node.lastIndexOf(':');
    connection = new Redis({
      ...this.cluster.options.redisOptions,
      host: node.slice(0, at),
      port: Number(node.slice(at + 1)),
      // A lost node is not called back: its subscriptions are placed again, maybe elsewhere.
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: true,
    });
    this.connections.set(node, connection);
    const current = connection;
    current.on('smessage', (channel: string, message: string) => this.handlers.message('shard', channel, message));
    current.on('message', (channel: string, message: string) => this.handlers.message('channel', channel, message));
    current.on('pmessage', (pattern: string, channel: string, message: string) => this.handlers.message('pattern', channel, message, pattern));
    // A slot that moved away unsubscribes its shard channels: ioredis reports that push as
    // an error on this connection. Any error: check every subscription here again.
    current.on('error', () => this.lose(node, current, false));
    current.on('close', () => this.lose(node, current, true));
    return current;
  }

  /** Subscriptions on a node's connection are lost (it closed) or in doubt (it erred). */
  private lose(node: string, connection: Redis, closed: boolean): void {
    if (this.closed || this.connections.get(node) !== connection) return;
    if (closed) this.connections.delete(node);
    let any = false;
    for (const entry of this.entries.values()) {
      // A connection that only erred keeps its classic subscriptions (only slots move).
      if (entry.node !== node || (!closed && entry.kind !== 'shard')) continue;
      entry.node = undefined;
      entry.lost = true;
      any = true;
    }
    if (closed) connection.disconnect();
    if (any) this.place();
  }
}
