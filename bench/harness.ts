/**
 * What every scenario run needs: the bench's own redis-server (persistence off, loopback,
 * a free port), a control connection for FLUSHALL and memory readings, one worker process
 * per system, the gateway's process for the HTTP scenario, and a fresh queue name per run.
 * Nothing here knows any library.
 */
import { Redis } from 'ioredis';
import { RedisServer } from '../test/support/redis-server.js';
import { GatewayProcess } from './gateway-child.js';
import type { Progress } from './progress.js';
import type { RedisTarget, SystemName } from './systems/types.js';
import { WorkerProcess } from './worker-pool.js';

/** Keys read per SCAN step when summing memory; the server is the bench's own. */
const SCAN_COUNT = 1_000;
/** An upper bound on SCAN steps, so a runaway keyspace cannot loop for ever. */
const MAX_SCAN_STEPS = 100_000;

/** Redis's own work: CPU seconds used by the server and per-command call counts and time. */
export interface RedisStats {
  cpuMs: number;
  commands: Record<string, { calls: number; usec: number }>;
}

/** What Redis did between two snapshots; `perTask` divides its CPU by the run's tasks. */
export function redisWork(before: RedisStats, after: RedisStats, tasks: number): Record<string, unknown> {
  const commands: Record<string, { calls: number; usec: number }> = {};
  for (const [name, now] of Object.entries(after.commands)) {
    const then = before.commands[name] ?? { calls: 0, usec: 0 };
    if (now.calls > then.calls) commands[name] = { calls: now.calls - then.calls, usec: now.usec - then.usec };
  }
  const cpuMs = after.cpuMs - before.cpuMs;
  return { cpuMs, cpuUsPerTask: (cpuMs * 1000) / tasks, commands };
}

export class Harness {
  private readonly workers = new Map<SystemName, WorkerProcess>();
  private gatewayProcess: GatewayProcess | undefined;
  private replicaServer: Promise<RedisServer> | undefined;
  private runs = 0;

  private constructor(
    private readonly server: RedisServer,
    readonly control: Redis,
    readonly progress: Progress,
  ) {}

  static async open(progress: Progress): Promise<Harness> {
    // RedisServer runs with `--save ''` and `--appendonly no`: no persistence.
    const server = await RedisServer.start();
    const control = new Redis(server.url, { lazyConnect: true });
    await control.connect();
    return new Harness(server, control, progress);
  }

  get redis(): RedisTarget {
    return { host: this.server.host, port: this.server.port, url: this.server.url };
  }

  /** A queue name never used before in this bench. */
  queueName(tag: string): string {
    return `bench-${tag}-${++this.runs}`;
  }

  /** The worker process of `system`, forked on first use. */
  async worker(system: SystemName): Promise<WorkerProcess> {
    let worker = this.workers.get(system);
    if (!worker) {
      worker = await WorkerProcess.spawn(system, (line) => this.progress.log(line));
      this.workers.set(system, worker);
    }
    return worker;
  }

  /** After a failed run: stop whatever the worker process still runs, or replace it. */
  async resetWorker(system: SystemName): Promise<void> {
    const worker = this.workers.get(system);
    if (!worker) return;
    try {
      await worker.stop();
    } catch {
      // Nothing running (fine) or the process is stuck: replace it to be sure.
      worker.kill();
      this.workers.delete(system);
    }
  }

  /** Errand's gateway in its own process against the bench's server, started on first use. */
  async gateway(): Promise<GatewayProcess> {
    this.gatewayProcess ??= await GatewayProcess.spawn(this.server.url, (line) => this.progress.log(line));
    return this.gatewayProcess;
  }

  /** After a failed run: end the gateway process; the next run starts a fresh one. */
  async resetGateway(): Promise<void> {
    const gateway = this.gatewayProcess;
    this.gatewayProcess = undefined;
    await gateway?.exit();
  }

  /** Empties the bench's private server between runs. */
  async flush(): Promise<void> {
    await this.control.flushall();
  }

  /** `used_memory` from INFO memory, in bytes. */
  async usedMemory(): Promise<number> {
    const info = await this.control.info('memory');
    const match = /^used_memory:(\d+)/m.exec(info);
    return match ? Number(match[1]) : Number.NaN;
  }

  /** The sum of MEMORY USAGE (all elements counted: SAMPLES 0) over every key. */
  async keyBytes(): Promise<{ keys: number; bytes: number }> {
    let cursor = '0';
    let keys = 0;
    let bytes = 0;
    for (let step = 0; step < MAX_SCAN_STEPS; step++) {
      const [next, batch] = await this.control.scan(cursor, 'COUNT', SCAN_COUNT);
      if (batch.length) {
        const pipeline = this.control.pipeline();
        for (const key of batch) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
        for (const [error, value] of (await pipeline.exec()) ?? []) {
          if (error) throw error;
          if (value !== null) {
            keys++;
            bytes += Number(value);
          }
        }
      }
      cursor = next;
      if (cursor === '0') return { keys, bytes };
    }
    throw new Error(`SCAN did not finish within ${MAX_SCAN_STEPS} steps`);
  }

  /** A snapshot of Redis's CPU time and command statistics (diff two with redisWork). */
  async redisStats(): Promise<RedisStats> {
    const [cpu, commandstats] = await Promise.all([this.control.info('cpu'), this.control.info('commandstats')]);
    const seconds = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
    const commands: RedisStats['commands'] = {};
    for (const match of commandstats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      commands[match[1]!] = { calls: Number(match[2]), usec: Number(match[3]) };
    }
    return { cpuMs: (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1000, commands };
  }

  async redisVersion(): Promise<string> {
    const info = await this.control.info('server');
    return /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown';
  }

  /**
   * A replica of the bench's Redis, started on first use and in sync when this resolves
   * (the durability scenario's writes wait for it). Replication costs the primary a little
   * from then on, so the scenario that needs it runs last.
   */
  async replica(): Promise<void> {
    this.replicaServer ??= (async () => {
      const replica = await RedisServer.start({ extraArgs: ['--replicaof', this.server.host, String(this.server.port)] });
      const client = new Redis(replica.url);
      try {
        for (let tries = 0; tries < 400; tries++) {
          if ((await client.info('replication')).includes('master_link_status:up')) return replica;
          await new Promise((resolve) => setTimeout(resolve, 50)); // a link coming up has no event to await
        }
        throw new Error('the bench replica did not sync within 20 s');
      } finally {
        client.disconnect();
      }
    })();
    await this.replicaServer;
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers.values()].map((worker) => worker.exit()));
    this.workers.clear();
    await this.resetGateway();
    await (await this.replicaServer?.catch(() => undefined))?.stop();
    this.control.disconnect();
    await this.server.stop();
  }
}
