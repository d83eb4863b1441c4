/**
 * Live channels for the faces (gateway, dashboard, CLI): publish and subscribe through one
 * Broadcast per kind of channel, Errand's JSON channels (under the prefix) and raw ones
 * (exact names, plain strings, shared with any Redis client), each created on first use
 * and closed with the admin. So a face holds at most two subscriber connections for any
 * number of its own subscribers.
 *
 * Subscribing answers within `failFastMs` (RedisUnavailableError otherwise), since a
 * request must not wait for Redis to come back. The buses' 'error' (a message that could
 * not be decoded) and 'resubscribed' (back after a connection loss; messages in the gap
 * were missed) events are re-emitted here, with which kind of channel they concern.
 */
import { EventEmitter } from 'node:events';
import { Broadcast, type ChannelHandler, type ChannelSubscription } from '../broadcast/channel.js';
import type { ConnectionOption } from '../config.js';
import { RedisUnavailableError } from '../errors.js';

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

export interface ChannelAdminEvents {
  error: [error: Error, kind: Required<ChannelKind>];
  resubscribed: [kind: Required<ChannelKind>];
}

export class ChannelAdmin extends EventEmitter<ChannelAdminEvents> {
  private readonly buses = new Map<boolean, Broadcast>();

  constructor(private readonly options: ChannelAdminOptions) {
    super();
    this.setMaxListeners(0); // one 'resubscribed' listener per open event stream
  }

  /** Publishes to everyone subscribed now; resolves with how many subscriber connections Redis reached. */
  publish(channel: string, message: unknown, { raw = false }: ChannelKind = {}): Promise<number> {
    return this.bus(raw).publish(channel, message);
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

  async close(): Promise<void> {
    const buses = [...this.buses.values()];
    this.buses.clear();
    await Promise.all(buses.map((bus) => bus.close()));
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
