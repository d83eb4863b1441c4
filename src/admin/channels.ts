/**
 * Live channels for the faces (gateway, dashboard, CLI): publish and subscribe through one
 * Broadcast per kind of channel, Errand's JSON channels (under the prefix) and raw ones
 * (exact names, plain strings, shared with any Redis client), each created on first use
 * and closed with the admin. So a face holds at most two subscriber connections for any
 * number of its own subscribers. And which channels have subscribers now (`active`), as
 * Redis's PUBSUB reports them.
 *
 * Subscribing answers within `failFastMs` (RedisUnavailableError otherwise), since a
 * request must not wait for Redis to come back. The buses' 'error' (a message that could
 * not be decoded) and 'resubscribed' (back after a connection loss; messages in the gap
 * were missed) events are re-emitted here, with which kind of channel they concern.
 */
import { EventEmitter } from 'node:events';
import { Broadcast, type ChannelHandler, type ChannelSubscription } from '../broadcast/channel.js';
import type { ConnectionOption } from '../config.js';
import { RedisUnavailableError, ValidationError } from '../errors.js';
import { closeClient, openClient, orUnavailable, type OwnedClient } from '../redis/connection.js';
import { channelName } from '../redis/keys.js';
import { censusOf, type PublishReceipt } from '../redis/pubsub-census.js';

export interface ChannelAdminOptions {
  connection?: ConnectionOption;
  prefix: string;
  /** Longest wait for a subscription to be confirmed. Default: wait for Redis. */
  failFastMs?: number;
}

export interface ChannelKind {
  /** Raw channel (exact name, string messages) rather than an Errand JSON channel. */
  raw?: boolean;
}

/** A channel with subscribers now. */
export interface LiveChannel {
  /** As publishers name it: without `<prefix>:ch:` for an Errand channel, the Redis name for a raw one. */
  name: string;
  /** A raw channel (any name outside `<prefix>:ch:`) rather than an Errand JSON channel. */
  raw: boolean;
  /** Connections subscribed to this exact channel (PUBSUB NUMSUB); pattern subscribers are not counted. */
  subscribers: number;
}

export interface LiveChannels {
  /** Errand channels first, then raw ones, each by name; at most `limit`. */
  channels: LiveChannel[];
  /** Channels with subscribers in all (more than `channels` holds when past the limit). */
  total: number;
  /** Pattern subscriptions on the server (PUBSUB NUMPAT), whichever channels they match. */
  patterns: number;
  /** On a Cluster, a node did not answer: the counts are lower bounds. */
  partial: boolean;
}

/** Most channels `active` describes by default. */
export const DEFAULT_CHANNEL_LIMIT = 500;

export interface ChannelAdminEvents {
  error: [error: Error, kind: Required<ChannelKind>];
  resubscribed: [kind: Required<ChannelKind>];
}

export class ChannelAdmin extends EventEmitter<ChannelAdminEvents> {
  private readonly buses = new Map<boolean, Broadcast>();
  private commands: OwnedClient | undefined;

  constructor(private readonly options: ChannelAdminOptions) {
    super();
    this.setMaxListeners(0); // one 'resubscribed' listener per open event stream
  }

  /**
   * Publishes to everyone subscribed now; resolves with how many subscriber connections
   * Redis reached, and whether that count is a lower bound (on a Cluster).
   */
  publish(channel: string, message: unknown, { raw = false }: ChannelKind = {}): Promise<PublishReceipt> {
    return this.bus(raw).publishCounted(channel, message);
  }

  /**
   * Subscribes `handler` to a channel or pattern (see Broadcast.subscribe); resolves once
   * Redis confirmed it, or rejects with RedisUnavailableError after `failFastMs`.
   */
  async subscribe<M = unknown>(channel: string, handler: ChannelHandler<M>, { raw = false }: ChannelKind = {}): Promise<ChannelSubscription> {
    const pending = this.bus(raw).subscribe(channel, handler);
    const { failFastMs } = this.options;
    if (failFastMs === undefined) return pending;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new RedisUnavailableError(`no subscription confirmed within ${failFastMs} ms`)), failFastMs);
    });
    try {
      return await Promise.race([pending, late]);
    } catch (error) {
      // Given up on: a subscription confirmed later (Redis back) must not stay behind.
      pending.then((subscription) => subscription.close()).catch(() => {});
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Channels with at least one subscriber now, with their subscriber counts: a few PUBSUB
   * calls, whatever the number of channels (on a Cluster, on every node, added up; `partial`
   * when a node did not answer). Errand's own queue event channels
   * (`<prefix>:{<queue>}:events` and `:progress`) are left out. Redis keeps no count of
   * messages published per channel.
   */
  async active({ limit = DEFAULT_CHANNEL_LIMIT }: { limit?: number } = {}): Promise<LiveChannels> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new ValidationError(`limit must be a whole number from 1 to 10000, got ${JSON.stringify(limit)}`);
    }
    const client = this.commandClient();
    const { prefix } = this.options;
    const errandPrefix = channelName(prefix, '');
    const internal = new RegExp(`^${prefix.replace(/\./g, '\\.')}:\\{[A-Za-z0-9._-]+\\}:(events|progress)$`);
    const census = await orUnavailable(censusOf(client));
    const found = [...census.subscribers.keys()]
      .filter((name) => !internal.test(name))
      .map((name) => (name.startsWith(errandPrefix) && name.length > errandPrefix.length ? { redisName: name, name: name.slice(errandPrefix.length), raw: false } : { redisName: name, name, raw: true }))
      .sort((a, b) => Number(a.raw) - Number(b.raw) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return {
      channels: found.slice(0, limit).map(({ redisName, name, raw }) => ({ name, raw, subscribers: census.subscribers.get(redisName) ?? 0 })),
      total: found.length,
      patterns: census.patterns,
      partial: census.partial,
    };
  }

  async close(): Promise<void> {
    const buses = [...this.buses.values()];
    this.buses.clear();
    const commands = this.commands;
    this.commands = undefined;
    await Promise.all([...buses.map((bus) => bus.close()), commands && closeClient(commands)]);
  }

  private commandClient() {
    if (!this.commands) {
      this.commands = openClient(this.options.connection);
      if (this.commands.owned) this.commands.client.on('error', () => {}); // commands report failures
    }
    return this.commands.client;
  }

  private bus(raw: boolean): Broadcast {
    let bus = this.buses.get(raw);
    if (!bus) {
      bus = new Broadcast({ connection: this.options.connection, prefix: this.options.prefix, raw });
      bus.on('error', (error) => {
        if (this.listenerCount('error') > 0) this.emit('error', error, { raw });
        else console.error(`[errand] channels: ${error.message}`);
      });
      bus.on('resubscribed', () => this.emit('resubscribed', { raw }));
      this.buses.set(raw, bus);
    }
    return bus;
  }
}
