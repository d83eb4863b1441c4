/**
 * The read/act API shared by the gateway, the dashboard and the CLI.
 *
 * Responsible for: knowing which queues exist under a prefix, keeping one Queue object per
 * queue name (so each face holds one connection and one result subscription per queue),
 * and summaries across queues. The faces never build keys or call scripts: everything
 * goes through here or the public API.
 */
import type { ConnectionOption } from '../config.js';
import { DEFAULT_PREFIX, validateName } from '../config.js';
import { Queue, type TaskCounts } from '../queue/queue.js';
import { closeClient, openClient, type OwnedClient } from '../redis/connection.js';
import { queuesKey } from '../redis/keys.js';
import { TopicAdmin } from './topics.js';

export interface AdminOptions {
  connection?: ConnectionOption;
  prefix?: string;
}

export interface QueueSummary extends TaskCounts {
  name: string;
}

export class Admin {
  readonly prefix: string;
  private readonly queues = new Map<string, Queue>();
  private registry: OwnedClient | undefined;
  /** Topic reads: names, overview (groups, lag, pending), one topic's info and dead letters. */
  readonly topics: TopicAdmin;

  constructor(private readonly options: AdminOptions = {}) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.topics = new TopicAdmin({ connection: options.connection, prefix: this.prefix });
  }

  /** The Queue object for a name (validated), created on first use and kept. */
  queue<P = unknown, R = unknown>(name: string): Queue<P, R> {
    validateName('queue', name);
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.options.connection, prefix: this.prefix });
      this.queues.set(name, queue);
    }
    return queue as Queue<P, R>;
  }

  /** Names of every queue that was ever used under this prefix, sorted. */
  async queueNames(): Promise<string[]> {
    if (!this.registry) {
      this.registry = openClient(this.options.connection);
      if (this.registry.owned) this.registry.client.on('error', () => {}); // commands report failures
    }
    const names = await this.registry.client.smembers(queuesKey(this.prefix));
    return names.sort();
  }

  /** Counts of every known queue. */
  async overview(): Promise<QueueSummary[]> {
    const names = await this.queueNames();
    return Promise.all(names.map(async (name) => ({ name, ...(await this.queue(name).counts()) })));
  }

  async close(): Promise<void> {
    const queues = [...this.queues.values()];
    this.queues.clear();
    const registry = this.registry;
    this.registry = undefined;
    await Promise.all([...queues.map((queue) => queue.close()), registry && closeClient(registry), this.topics.close()]);
  }
}
