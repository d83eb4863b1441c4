/**
 * Live channels: Redis PUBLISH / SUBSCRIBE (and pattern subscriptions) for Errand.
 *
 * Responsible for: validating names and messages before anything reaches Redis (raw names
 * stay out of Errand's own namespace, `<prefix>:`, where queue events travel); JSON
 * messages under `<prefix>:ch:<name>`, or (raw) exact names and plain strings that any Redis
 * client can read and write; one subscriber connection per Broadcast shared by all its
 * subscriptions (one Redis subscription per distinct channel or pattern); coming back by
 * itself after a connection loss (ioredis subscribes again; on a Cluster, the subscriptions
 * live on a connection to one node and move to another when that node is lost) and saying
 * so ('resubscribed'); receiver counts that, on a Cluster, add up every node.
 *
 * At most once: a message published while a subscriber is disconnected is not delivered
 * to it, ever. Durable delivery is what Topic is for.
 */
import { EventEmitter } from 'node:events';
import { Cluster } from 'ioredis';
import { ClosedError, PayloadTooLargeError, ValidationError } from '../errors.js';
import { encodeJson } from '../json.js';
import { closeClient, openClient, openDedicatedClient, orUnavailable, quit, whenReady, type OwnedClient } from '../redis/connection.js';
import { ClusterSubscriptions } from '../redis/cluster-subscriptions.js';
import { channelName } from '../redis/keys.js';
import { publishAndCount, type PublishReceipt } from '../redis/pubsub-census.js';
import type { RedisClient } from '../redis/scripts.js';
import { assertOutsideNamespace } from './channel-namespace.js';
import { isPattern, resolveBroadcastOptions, validateChannel, type BroadcastOptions, type ResolvedBroadcastOptions } from './options.js';

export interface ChannelMeta {
  /** The channel the message came on, as publishers name it (without the prefix). */
  channel: string;
  /** For pattern subscriptions: the pattern that matched. */
  pattern?: string;
}

/** Receives each message; a throw or rejection is reported as an 'error' event. */
export type ChannelHandler<M> = (message: M, meta: ChannelMeta) => unknown;

export interface BroadcastEvents {
  /** A handler threw, or a message could not be decoded. Delivery of others goes on. */
  error: [error: Error];
  /**
   * The subscriber connection came back after a loss and every subscription is active
   * again. Messages published during the gap were not delivered.
   */
  resubscribed: [];
}

interface Registration {
  /** Resolves once Redis confirmed the (P)SUBSCRIBE. */
  ready: Promise<unknown>;
  handlers: Set<ChannelHandler<unknown>>;
}

/** One subscribe() call's handle. */
export class ChannelSubscription {
  private closed = false;

  constructor(
    private readonly bus: Broadcast<never>,
    /** The channel or pattern as given to subscribe(). */
    readonly channel: string,
    readonly pattern: boolean,
    private readonly handler: ChannelHandler<never>,
  ) {}

  /** Stops this handler; the Redis subscription ends with the last handler on it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.bus.unsubscribe(this.channel, this.pattern, this.handler as ChannelHandler<unknown>);
  }
}

export class Broadcast<M = unknown> extends EventEmitter<BroadcastEvents> {
  readonly options: ResolvedBroadcastOptions;
  private readonly connection: OwnedClient;
  private subscriber: RedisClient | undefined;
  /** On a Cluster: the subscriptions, on connections to nodes (cluster-subscriptions.ts). */
  private clusterSubscriptions: ClusterSubscriptions | undefined;
  /** Keyed by 'c:<redis channel>' or 'p:<redis pattern>'. */
  private readonly registrations = new Map<string, Registration>();
  private closed = false;

  constructor(options?: BroadcastOptions) {
    super();
    this.options = resolveBroadcastOptions(options);
    this.connection = openClient(this.options.connection);
    // Commands report their own failures; connection errors in between are retried by ioredis.
    if (this.connection.owned) this.connection.client.on('error', () => {});
  }

  /**
   * Sends a message to everyone subscribed now. Resolves with how many subscribers Redis
   * handed it to (connections, not handlers; on a Cluster, summed over every node, and a
   * lower bound when some are not counted: see publishCounted).
   */
  async publish(channel: string, message: M): Promise<number> {
    return (await this.publishCounted(channel, message)).receivers;
  }

  /** Like publish, and says whether the count is a lower bound (`partial`, on a Cluster). */
  async publishCounted(channel: string, message: M): Promise<PublishReceipt> {
    this.assertOpen();
    const { raw } = this.options;
    const name = validateChannel(channel, { raw, pattern: false });
    if (raw) assertOutsideNamespace(name, this.options.prefix, false);
    const text = this.encode(message);
    return orUnavailable(publishAndCount(this.connection.client, this.redisName(name), text));
  }

  /**
   * Calls `handler` with every message published to `channel` from now on. A name with
   * `*`, `?` or `[` is a pattern (`news.*`). Resolves once Redis confirmed the subscription.
   */
  async subscribe<T = M>(channel: string, handler: ChannelHandler<T>): Promise<ChannelSubscription> {
    this.assertOpen();
    const { raw } = this.options;
    const name = validateChannel(channel, { raw, pattern: true });
    if (raw) assertOutsideNamespace(name, this.options.prefix, true);
    if (typeof handler !== 'function') throw new ValidationError('subscribe needs a handler: subscribe(channel, (message, meta) => ...)');
    const pattern = isPattern(name);
    const key = `${pattern ? 'p' : 'c'}:${this.redisName(name)}`;
    let registration = this.registrations.get(key);
    if (!registration) {
      const subscriber = this.openSubscriber();
      const target = this.redisName(name);
      const cluster = this.clusterSubscriptions;
      const ready = cluster
        ? cluster.subscribe(pattern ? 'pattern' : 'channel', target)
        : whenReady(subscriber).then(() => (pattern ? subscriber.psubscribe(target) : subscriber.subscribe(target)));
      registration = { ready, handlers: new Set() };
      this.registrations.set(key, registration);
      ready.catch(() => {
        if (this.registrations.get(key) === registration) this.registrations.delete(key);
      });
    }
    registration.handlers.add(handler as ChannelHandler<unknown>);
    try {
      await orUnavailable(registration.ready);
    } catch (error) {
      registration.handlers.delete(handler as ChannelHandler<unknown>);
      throw error;
    }
    return new ChannelSubscription(this as Broadcast<never>, name, pattern, handler as ChannelHandler<never>);
  }

  /** Ends every subscription and closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.registrations.clear();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    await this.clusterSubscriptions?.close();
    await Promise.all([subscriber && quit(subscriber), closeClient(this.connection)]);
  }

  /** @internal Used by ChannelSubscription.close. */
  async unsubscribe(name: string, pattern: boolean, handler: ChannelHandler<unknown>): Promise<void> {
    const key = `${pattern ? 'p' : 'c'}:${this.redisName(name)}`;
    const registration = this.registrations.get(key);
    if (!registration?.handlers.delete(handler) || registration.handlers.size > 0) return;
    this.registrations.delete(key);
    const subscriber = this.subscriber;
    if (this.closed || !subscriber) return;
    const target = this.redisName(name);
    if (this.clusterSubscriptions) await this.clusterSubscriptions.unsubscribe(pattern ? 'pattern' : 'channel', target);
    else await orUnavailable(pattern ? subscriber.punsubscribe(target) : subscriber.unsubscribe(target));
  }

  // ---- internals ----

  private redisName(name: string): string {
    return this.options.raw ? name : channelName(this.options.prefix, name);
  }

  private shortName(redisName: string): string {
    return this.options.raw ? redisName : redisName.slice(channelName(this.options.prefix, '').length);
  }

  private encode(message: unknown): string {
    const { raw, maxMessageBytes } = this.options;
    if (!raw) return encodeJson(message, 'message', maxMessageBytes);
    if (typeof message !== 'string') {
      throw new ValidationError(`a raw channel carries strings, got ${typeof message}: convert the message, or use a Broadcast without raw for JSON`);
    }
    const bytes = Buffer.byteLength(message);
    if (bytes > maxMessageBytes) throw new PayloadTooLargeError('message', bytes, maxMessageBytes);
    return message;
  }

  private openSubscriber(): RedisClient {
    if (this.subscriber) return this.subscriber;
    const subscriber = openDedicatedClient(this.options.connection);
    this.subscriber = subscriber;
    // Connection errors are retried by ioredis, which subscribes again on reconnect.
    subscriber.on('error', () => {});
    if (subscriber instanceof Cluster) {
      // ioredis would move a Cluster's subscriptions to another node without a word: ours say so.
      this.clusterSubscriptions = new ClusterSubscriptions(subscriber, {
        message: (kind, channel, text, pattern) => this.dispatch(kind === 'pattern' ? `p:${pattern}` : `c:${channel}`, channel, pattern, text),
        resubscribed: () => {
          if (!this.closed) this.emit('resubscribed');
        },
      });
      return subscriber;
    }
    subscriber.on('message', (channel: string, message: string) => this.dispatch(`c:${channel}`, channel, undefined, message));
    subscriber.on('pmessage', (pattern: string, channel: string, message: string) =>
      this.dispatch(`p:${pattern}`, channel, pattern, message),
    );
    let connectedBefore = false;
    subscriber.on('ready', () => {
      if (!connectedBefore) return void (connectedBefore = true);
      // ioredis sent the (P)SUBSCRIBEs again just before 'ready'; a PING answered means
      // they were answered too.
      subscriber
        .ping()
        .then(() => {
          if (!this.closed) this.emit('resubscribed');
        })
        .catch(() => {}); // lost again: the next 'ready' tries once more
    });
    return subscriber;
  }

  private dispatch(key: string, channel: string, pattern: string | undefined, text: string): void {
    const registration = this.registrations.get(key);
    if (!registration) return;
    const meta: ChannelMeta = { channel: this.shortName(channel) };
    if (pattern !== undefined) meta.pattern = this.shortName(pattern);
    for (const handler of registration.handlers) {
      let message: unknown = text;
      if (!this.options.raw) {
        try {
          message = JSON.parse(text);
        } catch {
          // Someone published something other than JSON under an Errand name: skip it.
          this.report(new ValidationError(`message on channel "${meta.channel}" is not JSON and was skipped: ${text.slice(0, 100)}`));
          return;
        }
      }
      try {
        const result = handler(message, { ...meta });
        if (result instanceof Promise) result.catch((error: unknown) => this.report(asError(error)));
      } catch (error) {
        this.report(asError(error));
      }
    }
  }

  private report(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.error(`[errand] broadcast: ${error.message}`);
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('broadcast');
  }
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
