/**
 * A real Redis Cluster for tests: masters with one replica each, on free loopback ports,
 * slots spread by `redis-cli --cluster create`, `cluster-node-timeout` 2 s. Offers what
 * fault tests need: the node that owns a slot, SIGKILL, freezing a process (SIGSTOP) to
 * make a replica fall behind, forcing a failover, and moving a slot key batch by key batch
 * as `redis-cli --cluster reshard` does. Stopped (directories removed) by `stop()`.
 *
 * Cluster state has no events to await: the waits here ask every 50 ms, within a bound.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisServer } from './redis-server.js';

const run = promisify(execFile);

export interface NodeInfo {
  id: string;
  address: string;
  master: boolean;
  /** For a replica: its master's id. */
  masterId: string | undefined;
  /** Slot ranges a master serves. */
  slots: [number, number][];
  failed: boolean;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`the test cluster did not ${what} within ${timeoutMs} ms`);
    await delay(50);
  }
}

export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  /** `masters` masters, each with `replicas` replicas. */
  static async start({ masters = 3, replicas = 1 }: { masters?: number; replicas?: number } = {}): Promise<RedisCluster> {
    const nodes = await Promise.all(
      Array.from({ length: masters * (1 + replicas) }, () =>
        RedisServer.start({ extraArgs: ['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000'] }),
      ),
    );
    const cluster = new RedisCluster(nodes);
    try {
      const addresses = nodes.map((n) => `${n.host}:${n.port}`);
      await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes']);
      await cluster.waitUntilHealthy();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** `redis+cluster://` URL over every node, as Errand's connection option takes it. */
  get url(): string {
    return `redis+cluster://${this.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.resume().catch(() => {})));
    await Promise.all(this.nodes.map((node) => node.stop()));
  }

  node(address: string): RedisServer {
    const node = this.nodes.find((n) => `${n.host}:${n.port}` === address);
    if (!node) throw new Error(`no test node at ${address}`);
    return node;
  }

  /** The cluster as a live node sees it. */
  async topology(): Promise<NodeInfo[]> {
    for (const node of this.nodes.filter((n) => n.running && !n.paused)) {
      const client = new Redis(node.port, node.host, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      try {
        await client.connect();
        const text = (await client.cluster('NODES')) as string;
        return text
          .trim()
          .split('\n')
          .map((line) => {
            const [id, address, flags, masterId, , , , , ...slots] = line.split(' ');
            return {
              id: id!,
              address: address!.split('@')[0]!,
              master: flags!.includes('master'),
              masterId: masterId === '-' ? undefined : masterId,
              slots: slots.filter((s) => !s.startsWith('[')).map((s) => {
                const [from, to] = s.split('-').map(Number);
                return [from!, to ?? from!] as [number, number];
              }),
              failed: flags!.includes('fail'),
            };
          });
      } catch {
        // ask the next node
      } finally {
        client.disconnect();
      }
    }
    throw new Error('no node of the test cluster answers');
  }

  /** The master that serves `slot` now, and its replica. */
  async owner(slot: number): Promise<{ master: RedisServer; masterId: string; replica: RedisServer | undefined; replicaId: string | undefined }> {
    const nodes = await this.topology();
    const master = nodes.find((n) => n.master && !n.failed && n.slots.some(([from, to]) => slot >= from && slot <= to));
    if (!master) throw new Error(`no master serves slot ${slot}`);
    const replica = nodes.find((n) => n.masterId === master.id && !n.failed);
    return { master: this.node(master.address), masterId: master.id, replica: replica && this.node(replica.address), replicaId: replica?.id };
  }

  /** Another master than `except`, for moving a slot to. */
  async otherMaster(exceptId: string): Promise<{ node: RedisServer; id: string }> {
    const other = (await this.topology()).find((n) => n.master && !n.failed && n.id !== exceptId && n.slots.length > 0);
    if (!other) throw new Error('no other master');
    return { node: this.node(other.address), id: other.id };
  }

  /** Waits until `slot` is served by a live master other than `formerId`, and every node agrees the cluster is ok. */
  async waitForNewOwner(slot: number, formerId: string, timeoutMs = 20_000): Promise<void> {
    await until(`elect a new master for slot ${slot}`, timeoutMs, async () => {
      const owner = await this.owner(slot);
      if (owner.masterId === formerId) return undefined;
      return (await this.allOk()) ? true : undefined;
    });
  }

  /**
   * Moves `slot` to master `toId`, key batch by key batch (MIGRATE), as a reshard does;
   * `between` runs after each batch (to let traffic in while the slot is half moved).
   * Returns how many keys moved.
   */
  async migrateSlot(slot: number, toId: string, { batch = 100, between }: { batch?: number; between?: () => Promise<void> } = {}): Promise<number> {
    const from = await this.owner(slot);
    const target = (await this.topology()).find((n) => n.id === toId);
    if (!target) throw new Error(`no node ${toId}`);
    const to = this.node(target.address);
    const source = new Redis(from.master.port, from.master.host);
    const destination = new Redis(to.port, to.host);
    let moved = 0;
    try {
      await destination.cluster('SETSLOT', slot, 'IMPORTING', from.masterId);
      await source.cluster('SETSLOT', slot, 'MIGRATING', toId);
      for (;;) {
        const keys = (await source.cluster('GETKEYSINSLOT', slot, batch)) as string[];
        if (!keys.length) break;
        await source.migrate(to.host, to.port, '', 0, 10_000, 'REPLACE', 'KEYS', ...keys);
        moved += keys.length;
        await between?.();
      }
      await destination.cluster('SETSLOT', slot, 'NODE', toId);
      await source.cluster('SETSLOT', slot, 'NODE', toId);
      for (const node of (await this.topology()).filter((n) => n.master && !n.failed)) {
        if (node.id === toId || node.id === from.masterId) continue;
        const other = this.node(node.address);
        const client = new Redis(other.port, other.host);
        await client.cluster('SETSLOT', slot, 'NODE', toId).finally(() => client.disconnect());
      }
    } finally {
      source.disconnect();
      destination.disconnect();
    }
    await until('agree on the moved slot', 10_000, async () => ((await this.allOk()) ? true : undefined));
    return moved;
  }

  /**
   * Makes `slot`'s replica fall behind on purpose: freezes it (SIGSTOP) and has its master
   * drop the replication link; writes from now on reach the master only. Undo with
   * `takeOverLagging`, which promotes that replica with what it has.
   */
  async detachReplica(slot: number): Promise<{ master: RedisServer; masterId: string; replica: RedisServer }> {
    const owner = await this.owner(slot);
    if (!owner.replica) throw new Error(`slot ${slot} has no replica`);
    await owner.replica.pause();
    const master = new Redis(owner.master.port, owner.master.host);
    await master.client('KILL', 'TYPE', 'replica').finally(() => master.disconnect());
    return { master: owner.master, masterId: owner.masterId, replica: owner.replica };
  }

  /**
   * A lossy failover: the master is frozen, the lagging replica wakes and takes over at once
   * (CLUSTER FAILOVER TAKEOVER: no agreement with the master, whose last writes it never
   * got), then the old master is killed. Resolves once the cluster agrees.
   */
  async takeOverLagging(slot: number, detached: { master: RedisServer; masterId: string; replica: RedisServer }): Promise<void> {
    await detached.master.pause();
    await detached.replica.resume();
    const replica = new Redis(detached.replica.port, detached.replica.host);
    await replica.cluster('FAILOVER', 'TAKEOVER').finally(() => replica.disconnect());
    await detached.master.resume();
    await detached.master.kill();
    await this.waitForNewOwner(slot, detached.masterId);
  }

  /** Waits until `master`'s replicas have every write it took (replication offsets equal). */
  async waitForReplicas(master: RedisServer, timeoutMs = 10_000): Promise<void> {
    const client = new Redis(master.port, master.host);
    try {
      await until('bring the replicas in sync', timeoutMs, async () => {
        const info = await client.info('replication');
        const offset = /master_repl_offset:(\d+)/.exec(info)?.[1];
        const replicas = [...info.matchAll(/slave\d+:.*offset=(\d+)/g)].map((m) => m[1]);
        return replicas.length > 0 && replicas.every((o) => o === offset) ? true : undefined;
      });
    } finally {
      client.disconnect();
    }
  }

  /** Starts a killed node again; it rejoins (a former master comes back as a replica of its successor). */
  async rejoin(node: RedisServer): Promise<void> {
    await node.restart();
    const address = `${node.host}:${node.port}`;
    await until('take the node back', 20_000, async () => ((await this.allOk()) ? true : undefined));
    // Best effort, a while: seen by the others as a live replica with its link up (a test
    // that needs a replica for a slot waits for one itself: replicaOf).
    await until('take the node back as a replica', 10_000, async () => {
      const info = (await this.topology()).find((n) => n.address === address);
      if (!info || info.failed || info.master || !info.masterId) return undefined;
      const client = new Redis(node.port, node.host);
      const text = await client.info('replication').finally(() => client.disconnect());
      return text.includes('master_link_status:up') ? true : undefined;
    }).catch(() => undefined);
  }

  /** The master that serves `slot` and its replica, once it has a live one (waits up to `timeoutMs`). */
  async ownerWithReplica(slot: number, timeoutMs = 30_000): Promise<Awaited<ReturnType<RedisCluster['owner']>> & { replica: RedisServer }> {
    return until(`see a live replica of the master of slot ${slot}`, timeoutMs, async () => {
      const owner = await this.owner(slot);
      return owner.replica ? { ...owner, replica: owner.replica } : undefined;
    });
  }

  /** Every live node reports cluster_state:ok. */
  private async allOk(): Promise<boolean> {
    const live = this.nodes.filter((n) => n.running && !n.paused);
    const states = await Promise.all(
      live.map(async (node) => {
        const client = new Redis(node.port, node.host, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
        try {
          await client.connect();
          return ((await client.cluster('INFO')) as string).includes('cluster_state:ok');
        } catch {
          return false;
        } finally {
          client.disconnect();
        }
      }),
    );
    return states.every(Boolean);
  }

  /** Every node reports cluster_state:ok and every replica's link to its master is up. */
  private async waitUntilHealthy(): Promise<void> {
    await until('reach cluster_state:ok with every replica in sync', 30_000, async () => {
      if (!(await this.allOk())) return undefined;
      const replicas = (await this.topology()).filter((n) => !n.master);
      for (const info of replicas) {
        const node = this.node(info.address);
        const client = new Redis(node.port, node.host);
        const text = await client.info('replication').finally(() => client.disconnect());
        if (!text.includes('master_link_status:up')) return undefined;
      }
      return true;
    });
  }
}

/**
 * The test cluster of a test file: started before its tests, stopped after them. Its
 * methods and fields are the started cluster's (used inside tests and hooks only).
 */
export function useCluster(): RedisCluster {
  let started: RedisCluster | undefined;
  beforeAll(async () => {
    started = await RedisCluster.start();
  }, 60_000);
  afterAll(async () => {
    await started?.stop();
  });
  return new Proxy({} as RedisCluster, {
    get(_target, key) {
      if (!started) throw new Error('the test cluster is not started yet: use it inside a test or hook');
      const value: unknown = Reflect.get(started, key, started);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(started) : value;
    },
  });
}
