/**
 * One pub/sub connection per Redis connection setting, shared by everything in the process
 * that listens (every Queue's result waiter), and closed when the last user lets go.
 *
 * A process with a hundred queues holds one subscriber connection, not a hundred. Sharing is
 * by identity of the `connection` option: the same URL string, the same ioredis object, or
 * equal options objects. On a Redis Cluster, queues announce their events on shard
 * channels (SPUBLISH, so they stay on the queue's shard): the subscriptions then live on
 * connections to the owning masters (cluster-subscriptions.ts), which notice a failover or
 * a moved slot and subscribe again.
 */
import { Cluster } from 'ioredis';
import type { ConnectionOption } from '../config.js';
import { ClusterSubscriptions } from './cluster-subscriptions.js';
import { answeredWhileClosing, defaultConnection, openDedicatedClient, quit, whenReady } from './connection.js';
import type { RedisClient } from './scripts.js';

type Listener = (message: string) => void;

export interface Subscription {
  /** Resolves once Redis confirmed the subscription. */
  ready: Promise<void>;
  close(): Promise<void>;
}

interface Channel {
  listeners: Set<Listener>;
  /** Called after the subscription was lost and made again: messages may have been missed. */
  reconnectListeners: Set<() => void>;
  /** The SUBSCRIBE every listener of the channel waits for. */
  confirmed: Promise<void>;
}

export class SharedSubscriber {
  private readonly client: RedisClient;
  private readonly cluster: ClusterSubscriptions | undefined;
  private readonly channels = new Map<string, Channel>();
  private users = 0;

  constructor(
    connection: ConnectionOption | undefined,
    private readonly onIdle: () => void,
  ) {
    this.client = openDedicatedClient(connection, { patient: true });
    // Reconnects are ioredis's job; users hear about them through onReconnect.
    this.client.on('error', () => {});
    if (this.client instanceof Cluster) {
      this.cluster = new ClusterSubscriptions(this.client, {
        message: (_kind, channel, message) => this.dispatch(channel, message),
        resubscribed: (subscriptions) => {
          for (const { name } of subscriptions) this.reconnected(this.channels.get(name));
        },
      });
    } else {
      this.client.on('message', (channel: string, message: string) => this.dispatch(channel, message));
      let connectedBefore = false;
      this.client.on('ready', () => {
        if (connectedBefore) for (const channel of this.channels.values()) this.reconnected(channel);
        connectedBefore = true;
      });
    }
  }

  acquire(): this {
    this.users++;
    return this;
  }

  /**
   * Listens to one of the queue's channels (a shard channel on a cluster); `onReconnect`
   * runs after each time the subscription was lost and made again (messages may have been
   * missed).
   */
  subscribe(name: string, listener: Listener, onReconnect?: () => void): Subscription {
    let channel = this.channels.get(name);
    if (!channel) {
      // Every listener of a channel waits for the one SUBSCRIBE: a second listener that
      // went ahead before Redis confirmed it could miss what is published meanwhile.
      const confirmed = this.cluster
        ? this.cluster.subscribe('shard', name)
        : whenReady(this.client)
            .then(() => this.client.subscribe(name))
            .then(() => undefined);
      channel = { listeners: new Set(), reconnectListeners: new Set(), confirmed };
      this.channels.set(name, channel);
    }
    channel.listeners.add(listener);
    if (onReconnect) channel.reconnectListeners.add(onReconnect);
    const current = channel;
    return {
      ready: current.confirmed,
      close: async () => {
        current.listeners.delete(listener);
        if (onReconnect) current.reconnectListeners.delete(onReconnect);
        if (current.listeners.size > 0 || this.channels.get(name) !== current) return;
        this.channels.delete(name);
        // Not waited for past a bound: a stalled Redis must not keep a close from ending.
        if (this.cluster) await answeredWhileClosing(this.cluster.unsubscribe('shard', name));
        else await answeredWhileClosing(this.client.unsubscribe(name));
      },
    };
  }

  /** One user is done; the connection closes when none is left. */
  async release(): Promise<void> {
    if (--this.users > 0) return;
    this.onIdle();
    await this.cluster?.close();
    await quit(this.client);
  }

  private dispatch(name: string, message: string): void {
    for (const listener of this.channels.get(name)?.listeners ?? []) listener(message);
  }

  private reconnected(channel: Channel | undefined): void {
    for (const listener of channel?.reconnectListeners ?? []) listener();
  }
}

/** The process's shared subscribers, by connection identity. */
export class SubscriberRegistry {
  private readonly byKey = new Map<unknown, SharedSubscriber>();

  acquire(connection: ConnectionOption | undefined): SharedSubscriber {
    const key = identity(connection);
    let subscriber = this.byKey.get(key);
    if (!subscriber) {
      subscriber = new SharedSubscriber(connection, () => this.byKey.delete(key));
      this.byKey.set(key, subscriber);
    }
    return subscriber.acquire();
  }
}

function identity(connection: ConnectionOption | undefined): unknown {
  const resolved = connection ?? defaultConnection();
  if (typeof resolved === 'string' || typeof resolved !== 'object' || !isPlainObject(resolved)) return resolved;
  return JSON.stringify(resolved);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * The registry Queues use unless given another. Shared on purpose: a per-process pool of
 * subscriber connections is the point (see the file header).
 */
export const subscribers = new SubscriberRegistry();
