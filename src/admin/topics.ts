/**
 * Topic reads for the faces (gateway, dashboard, CLI): which topics exist under a prefix,
 * and per topic its length, groups (members, pending, lag, missed) and dead letters.
 *
 * Keeps Topic objects per name, like Admin does for queues, on the admin's connection: at
 * most `maxTopicObjects` for reads (the least recently used closed first: closing one only
 * drops an object, its commands run on the shared connection), so names from requests
 * cannot grow memory without bound. Reading a topic's state joins no group. Subscribing
 * (the gateway's topic event streams) goes through a second set of Topic objects on
 * `memberConnection`, each kept while it has members: a member's blocking read must not
 * run on a connection that times out slow commands, as the gateway's does.
 */
import type { ConnectionOption } from '../config.js';
import { DEFAULT_PREFIX, NAME_PATTERN, validateName } from '../config.js';
import type { SubscribeOptions } from '../broadcast/options.js';
import { Topic } from '../broadcast/topic.js';
import type { TopicInfo } from '../broadcast/topic-info.js';
import type { TopicHandler, TopicSubscription } from '../broadcast/topic-subscription.js';
import { closeClient, openClient, orUnavailable, type OwnedClient } from '../redis/connection.js';
import { topicsKey } from '../redis/keys.js';

export interface TopicAdminOptions {
  connection?: ConnectionOption;
  prefix?: string;
  /** Where subscription members read (asked for on first subscribe). Default: `connection`. */
  memberConnection?: () => ConnectionOption | undefined;
  /** Most Topic objects kept for reads. Default 1,000. */
  maxTopicObjects?: number;
}

export class TopicAdmin {
  readonly prefix: string;
  private readonly topics = new Map<string, Topic>();
  private readonly memberTopics = new Map<string, { topic: Topic; members: number }>();
  private registry: OwnedClient | undefined;

  constructor(private readonly options: TopicAdminOptions = {}) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
  }

  /** The Topic object for a name (validated), created on first use and kept. */
  topic<M = unknown>(name: string): Topic<M> {
    validateName('topic', name);
    let topic = this.topics.get(name);
    if (topic) {
      this.topics.delete(name); // re-inserted below: a Map keeps insertion order, the oldest first
    } else {
      topic = new Topic(name, { connection: this.options.connection, prefix: this.prefix });
      const max = this.options.maxTopicObjects ?? 1_000;
      for (const [oldName, old] of this.topics) {
        if (this.topics.size < max) break;
        this.topics.delete(oldName);
        void old.close().catch(() => {}); // holds no subscription: only the object goes
      }
    }
    this.topics.set(name, topic);
    return topic as Topic<M>;
  }

  /** Topic objects kept now, for reads and for members. */
  get topicObjects(): number {
    return this.topics.size + this.memberTopics.size;
  }

  /**
   * Adds a member to group `group` of a topic (see Topic.subscribe). The admin closes it
   * on close, if its owner did not first.
   */
  subscribe<M = unknown>(name: string, group: string, handler: TopicHandler<M>, options?: SubscribeOptions): TopicSubscription<M> {
    validateName('topic', name);
    let entry = this.memberTopics.get(name);
    if (!entry) {
      const connection = this.options.memberConnection ? this.options.memberConnection() : this.options.connection;
      entry = { topic: new Topic(name, { connection, prefix: this.prefix }), members: 0 };
      this.memberTopics.set(name, entry);
    }
    let subscription: TopicSubscription<M>;
    try {
      subscription = (entry.topic as Topic<M>).subscribe(group, handler, options);
    } catch (error) {
      if (entry.members === 0) {
        this.memberTopics.delete(name);
        void entry.topic.close().catch(() => {});
      }
      throw error;
    }
    const held = entry;
    held.members++;
    // The last member gone, the Topic object goes too (a later member makes a new one).
    subscription.once('closed', () => {
      if (--held.members > 0 || this.memberTopics.get(name) !== held) return;
      this.memberTopics.delete(name);
      void held.topic.close().catch(() => {});
    });
    return subscription;
  }

  /**
   * Names of every topic published to or subscribed under this prefix, sorted. Entries
   * that are no valid topic name were not written by Errand (another client's SADD) and
   * are left out, so they cannot break the reads that follow.
   */
  async names(): Promise<string[]> {
    if (!this.registry) {
      this.registry = openClient(this.options.connection);
      if (this.registry.owned) this.registry.client.on('error', () => {}); // commands report failures
    }
    const names = await orUnavailable(this.registry.client.smembers(topicsKey(this.prefix)));
    return names.filter((name) => NAME_PATTERN.test(name)).sort();
  }

  /** Every known topic with its groups, lag and pending counts. */
  async overview(): Promise<TopicInfo[]> {
    const names = await this.names();
    return Promise.all(names.map((name) => this.topic(name).info()));
  }

  async close(): Promise<void> {
    const topics = [...this.topics.values(), ...[...this.memberTopics.values()].map((entry) => entry.topic)];
    this.topics.clear();
    this.memberTopics.clear();
    const registry = this.registry;
    this.registry = undefined;
    await Promise.all([...topics.map((topic) => topic.close()), registry && closeClient(registry)]);
  }
}
