/**
 * Durable topics: a Redis Stream per topic, one consumer group per subscriber group.
 *
 * Responsible for: validating messages before anything reaches Redis; publishing (one
 * script call per chunk of 1,000, retention applied as it goes); starting subscription
 * members (the reading, acknowledging and reclaiming is TopicSubscription's job); moving a
 * group to replay; the reads admins need (groups, lag, pending, dead letters, messages
 * published per minute).
 *
 * Every group receives every message; inside a group each message goes to one member at a
 * time, at least once, acknowledged only after its handler resolved.
 */
import { formatIssues, validateName } from '../config.js';
import { ClosedError, ValidationError } from '../errors.js';
import { encodeJson } from '../json.js';
import { currentTraceparent, loadTracing, tracingSettled } from '../tracing.js';
import { validateMinutes } from '../redis/minute-counts.js';
import { closeClient, openClient, orUnavailable, type OwnedClient } from '../redis/connection.js';
import { TopicKeys, topicsKey } from '../redis/keys.js';
import { runScript } from '../redis/scripts.js';
import * as scripts from '../redis/topic-scripts.js';
import {
  fromSchema,
  resolveSubscribeOptions,
  resolveTopicOptions,
  type ResolvedTopicOptions,
  type SubscribeOptions,
  type TopicOptions,
  type TopicStart,
} from './options.js';
import { readDeadLetters, readPublishedPerMinute, readTopicInfo, type DeadLetter, type PublishedPoint, type TopicInfo } from './topic-info.js';
import { startPosition } from './stream-ids.js';
import { TopicSubscription, type TopicHandler } from './topic-subscription.js';

/** Messages per publish script call: amortizes the round trip, keeps each call short. */
const PUBLISH_CHUNK = 1000;

export class Topic<M = unknown> {
  readonly name: string;
  readonly options: ResolvedTopicOptions;
  readonly keys: TopicKeys;
  private readonly connection: OwnedClient;
  private readonly subscriptions = new Set<TopicSubscription<M>>();
  private registered: Promise<unknown> | undefined;
  private closed = false;

  constructor(name: string, options?: TopicOptions) {
    this.name = validateName('topic', name);
    this.options = resolveTopicOptions(options);
    this.keys = new TopicKeys(this.options.prefix, this.name);
    this.connection = openClient(this.options.connection);
    // Commands report their own failures; connection errors in between are retried by ioredis.
    if (this.connection.owned) this.connection.client.on('error', () => {});
    void loadTracing();
  }

  /** Appends a message; resolves with its id once it is in Redis. */
  async publish(message: M): Promise<string> {
    const [id] = await this.publishMany([message]);
    return id!;
  }

  /** Appends many messages in order: one script call per 1,000, each chunk atomic. */
  async publishMany(messages: readonly M[]): Promise<string[]> {
    this.assertOpen();
    if (!Array.isArray(messages)) throw new ValidationError('publishMany takes an array of messages');
    const texts = messages.map((message, index) =>
      encodeJson(message, messages.length > 1 ? `message ${index}` : 'message', this.options.maxMessageBytes),
    );
    this.register();
    if (!tracingSettled()) await loadTracing(); // the caller's context is still current after it
    const traceparent = currentTraceparent();
    const { maxLength, maxAgeMs } = this.options.retention;
    const chunks: string[][] = [];
    for (let start = 0; start < texts.length; start += PUBLISH_CHUNK) chunks.push(texts.slice(start, start + PUBLISH_CHUNK));
    const replies = await orUnavailable(
      Promise.all(
        chunks.map((chunk) => runScript(this.client, scripts.publish(this.keys, { maxLength, maxAgeMs, messages: chunk, traceparent }))),
      ),
    );
    return replies.flat();
  }

  /**
   * Adds a member to subscriber group `group` (created on first use, starting at
   * `options.from`) and starts handing it messages. `await sub.ready()` to know the group
   * exists; `await sub.close()` to stop.
   */
  subscribe(group: string, handler: TopicHandler<M>, options?: SubscribeOptions): TopicSubscription<M> {
    this.assertOpen();
    validateName('group', group);
    if (typeof handler !== 'function') throw new ValidationError('subscribe needs a handler: subscribe(group, async (message, meta) => ...)');
    const resolved = resolveSubscribeOptions(options);
    this.register();
    const subscription = new TopicSubscription<M>({ topic: this.name, keys: this.keys, topicOptions: this.options }, group, handler, resolved);
    this.subscriptions.add(subscription);
    subscription.once('closed', () => this.subscriptions.delete(subscription));
    return subscription;
  }

  /**
   * Moves group `group` (creating it if needed) so it reads again from `from`: messages it
   * already handled are delivered again. Messages its members hold stay theirs.
   */
  async replay(group: string, from: TopicStart): Promise<void> {
    this.assertOpen();
    validateName('group', group);
    const parsed = fromSchema.safeParse(from);
    if (!parsed.success) throw new ValidationError(`invalid replay start: ${formatIssues(parsed.error.issues)}`);
    this.register();
    await orUnavailable(runScript(this.client, scripts.join(this.keys, { group, start: startPosition(parsed.data), move: true })));
  }

  /** Length, groups with their lag and pending counts, and the dead-letter count. */
  async info(): Promise<TopicInfo> {
    this.assertOpen();
    return orUnavailable(readTopicInfo(this.client, this.keys, this.name));
  }

  /**
   * Messages published per minute over the last `minutes` (1-1440, default 60), oldest
   * first, ending with the current minute; from counters the publish script keeps for a
   * day. Counts what Errand published (this library, the gateway); entries other programs
   * XADD to the stream are not counted. Minutes are epoch minutes on the Redis clock.
   */
  async throughput({ minutes = 60 }: { minutes?: number } = {}): Promise<PublishedPoint[]> {
    this.assertOpen();
    return orUnavailable(readPublishedPerMinute(this.client, this.keys, validateMinutes(minutes)));
  }

  /** Messages that failed every attempt, newest first, with their errors. */
  async deadLetters({ offset = 0, limit = 50 }: { offset?: number; limit?: number } = {}): Promise<DeadLetter[]> {
    this.assertOpen();
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new ValidationError('offset must be a whole number >= 0 and limit one from 1 to 1000');
    }
    return orUnavailable(readDeadLetters(this.client, this.keys, offset, limit));
  }

  /** Closes the subscriptions made through this Topic (see TopicSubscription.close), then its connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    await closeClient(this.connection);
  }

  // ---- internals ----

  private get client() {
    return this.connection.client;
  }

  /** Records the topic's name in the prefix's registry, once per Topic object. */
  private register(): void {
    this.registered ??= this.client.sadd(topicsKey(this.options.prefix), this.name).catch(() => {
      this.registered = undefined; // try again with the next call
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError(`topic "${this.name}"`);
  }
}
