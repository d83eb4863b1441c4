/**
 * A Sentinel-managed Redis for tests: a master, a replica, and one Sentinel (quorum 1,
 * down-after 3 s: on a loaded machine 1 s let it fail over a second time, to the old master still syncing, losing acknowledged writes) on free loopback ports. Offers the master's address, SIGKILL of the
 * master, a wait for the Sentinel to name a new one, and the old master's return (as a
 * replica). Stopped, directories removed, by `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { stopRedisServer } from '../../src/redis/server-process.js';
import { freePort, RedisServer } from './redis-server.js';

export const MASTER_NAME = 'errandmaster';

export class RedisSentinel {
  private constructor(
    readonly servers: RedisServer[],
    private readonly sentinel: ChildProcess,
    readonly sentinelPort: number,
    private readonly dir: string,
  ) {}

  static async start(): Promise<RedisSentinel> {
    const master = await RedisServer.start();
    const replica = await RedisServer.start({ extraArgs: ['--replicaof', master.host, String(master.port)] });
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'errand-sentinel-'));
    const config = join(dir, 'sentinel.conf');
    writeFileSync(
      config,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${MASTER_NAME} ${master.host} ${master.port} 1`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 3000`,
        `sentinel failover-timeout ${MASTER_NAME} 5000`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-server', [config, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // A Sentinel says it watches the master (it prints no "Ready to accept connections").
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('+monitor master')) {
          child.stdout?.off('data', onData);
          child.stdout?.resume();
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`redis-server --sentinel exited with ${code}:\n${output}`)));
    });
    const setup = new RedisSentinel([master, replica], child, port, dir);
    await setup.waitForSync();
    return setup;
  }

  /** `redis+sentinel://` URL, as Errand's connection option takes it. */
  get url(): string {
    return `redis+sentinel://127.0.0.1:${this.sentinelPort}/${MASTER_NAME}`;
  }

  /** The server the Sentinel names as master now. */
  async master(): Promise<RedisServer> {
    const client = new Redis(this.sentinelPort, '127.0.0.1');
    try {
      const [, port] = (await client.call('SENTINEL', 'get-master-addr-by-name', MASTER_NAME)) as [string, string];
      const server = this.servers.find((s) => s.port === Number(port));
      if (!server) throw new Error(`the Sentinel names an unknown master on port ${port}`);
      return server;
    } finally {
      client.disconnect();
    }
  }

  /** Waits until the Sentinel names a master other than `former` that answers as one (bounded; asks every 50 ms). */
  async waitForFailover(former: RedisServer, timeoutMs = 20_000): Promise<RedisServer> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const current = await this.master().catch(() => former);
      if (current !== former) {
        const client = new Redis(current.port, current.host);
        const role = await client.role().catch(() => []).finally(() => client.disconnect());
        if (role[0] === 'master') return current;
      }
      await delay(50);
    }
    throw new Error(`the Sentinel named no new master within ${timeoutMs} ms`);
  }

  /** Starts a killed server again; the Sentinel makes it a replica of the new master. */
  async rejoin(server: RedisServer): Promise<void> {
    await server.restart();
    await this.waitForSync();
  }

  async stop(): Promise<void> {
    await stopRedisServer(this.sentinel);
    await Promise.all(this.servers.map((server) => server.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Waits until the master has a replica in sync (bounded; asks every 50 ms). */
  private async waitForSync(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const master = await this.master().catch(() => undefined);
      if (master?.running) {
        const client = new Redis(master.port, master.host);
        const info = await client.info('replication').catch(() => '').finally(() => client.disconnect());
        if (/slave\d+:.*state=online/.test(info)) return;
      }
      await delay(50);
    }
    throw new Error(`the Sentinel-managed master had no replica in sync within ${timeoutMs} ms`);
  }
}
