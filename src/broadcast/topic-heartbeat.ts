/**
 * A topic member's heartbeat: every leaseMs/3 it restarts the lease clock of every message
 * the member's handlers are running on, in one script call, and reports those it no longer
 * holds (another member took them over), so their handlers can be aborted.
 */
import type { TopicKeys } from '../redis/keys.js';
import { runScript, type RedisClient } from '../redis/scripts.js';
import * as scripts from '../redis/topic-scripts.js';

export interface TopicHeartbeatOptions {
  client: RedisClient;
  keys: TopicKeys;
  group: string;
  consumer: string;
  leaseMs: number;
  /** Ids of the messages held now, read at each beat. */
  held(): string[];
  onLost(ids: string[]): void;
  onError(error: Error): void;
}

export class TopicHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;

  constructor(private readonly options: TopicHeartbeatOptions) {}

  start(): void {
    if (this.timer) return;
    const intervalMs = Math.max(10, Math.floor(this.options.leaseMs / 3));
    this.timer = setInterval(() => {
      this.beating ??= this.beat().finally(() => (this.beating = undefined));
    }, intervalMs);
  }

  /** Stops beating; resolves once a beat in flight is done. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
  }

  private async beat(): Promise<void> {
    const { client, keys, group, consumer } = this.options;
    const ids = this.options.held();
    if (!ids.length) return;
    try {
      const lost = await runScript(client, scripts.extend(keys, { group, consumer, ids }));
      if (lost.length) this.options.onLost(lost);
    } catch (error) {
      // A missed beat is survivable (a lease lasts three beats); the next one tries again.
      this.options.onError(error as Error);
    }
  }
}
