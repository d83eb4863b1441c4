/**
 * A real Redis Cluster for tests: three master nodes on free loopback ports, slots spread
 * by `redis-cli --cluster create`. Stopped (and its directories removed) by `stop()`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RedisServer } from './redis-server.js';

const run = promisify(execFile);

export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(size = 3): Promise<RedisCluster> {
    const nodes = await Promise.all(
      Array.from({ length: size }, () =>
        RedisServer.start({ extraArgs: ['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000'] }),
      ),
    );
    const cluster = new RedisCluster(nodes);
    try {
      await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
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
    await Promise.all(this.nodes.map((node) => node.stop()));
  }

  /**
   * Nodes gossip their way to `cluster_state:ok`; Redis offers no event for it, so this
   * asks every 50 ms, for 15 s at most.
   */
  private async waitUntilHealthy(): Promise<void> {
    const clients = this.nodes.map((n) => new Redis(n.port, n.host));
    try {
      for (let tries = 0; tries < 300; tries++) {
        const infos = await Promise.all(clients.map((c) => c.cluster('INFO') as Promise<string>));
        if (infos.every((info) => info.includes('cluster_state:ok'))) return;
        await delay(50);
      }
      throw new Error('the test cluster did not reach cluster_state:ok within 15 s');
    } finally {
      clients.forEach((c) => c.disconnect());
    }
  }
}
