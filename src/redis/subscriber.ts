/**
 * One pub/sub connection per Redis connection setting, shared by everything in the process
 * that listens (every Queue's result waiter), and closed when the last user lets go.
 *
 * A process with a hundred queues holds one subscriber connection, not a hundred. Sharing is
 * by identity of the `connection` option: the same URL string, the same ioredis object, or
 * equal options objects.
 */
import type { ConnectionOption } from '../config.js';
import { defaultConnection, openDedicatedClient, quit, whenReady } from './connection.js';
import type { RedisClient } from './scripts.js';

type Listener = (message: string) => void;

export interface Subscription {
  /** Resolves once Redis confirmed the subscription. */
  ready: Promise<void>;
  close(): Promise<void>;
}

export class SharedSubscriber {
  private readonly client: RedisClient;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly reconnectListeners = new Set<() => void>();
  /** Per channel, the SUBSCRIBE every listener of it waits for. */
  private readonly confirmed = new Map<string, Promise<void>>();
  private users = 0;

  constructor(
    connection: ConnectionOption | undefined,
    private readonly onIdle: () => void,
  ) {
    this.client = openDedicatedClient(connection, { patient: true });
    // Reconnects are ioredis's job; users hear about them through onReconnect.
    this.client.on('error', () => {});
    this.client.on('message', (channel: string, message: string) => {
      for (const listener of this.listeners.get(channel) ?? []) listener(message);
    });
    let connectedBefore = false;
    this.client.on('ready', () => {
      if (connectedBefore) for (const listener of this.reconnectListeners) listener();
      connectedBefore = true;
    });
  }

  acquire(): this {
    this.users++;
    return this;
  }

  /** Listens to a channel; `onReconnect` runs after each reconnection (messages may have been missed). */
  subscribe(channel: string, listener: Listener, onReconnect?: () => void): Subscription {
    let set = this.listeners.get(channel);
    if (!set) {
      this.listeners.set(channel, (set = new Set()));
      // Every listener of a channel waits for the one SUBSCRIBE: a second listener that
      // went ahead before Redis confirmed it could miss what is published meanwhile.
      this.confirmed.set(
        channel,
        whenReady(this.client)
          .then(() => this.client.subscribe(channel))
          .then(() => undefined),
      );
    }
    set.add(listener);
    if (onReconnect) this.reconnectListeners.add(onReconnect);
    const ready = this.confirmed.get(channel) ?? Promise.resolve();
    return {
      ready,
      close: async () => {
        if (onReconnect) this.reconnectListeners.delete(onReconnect);
        const current = this.listeners.get(channel);
        current?.delete(listener);
        if (current?.size === 0) {
          this.listeners.delete(channel);
          this.confirmed.delete(channel);
          await this.client.unsubscribe(channel).catch(() => {});
        }
      },
    };
  }

  /** One user is done; the connection closes when none is left. */
  async release(): Promise<void> {
    if (--this.users > 0) return;
    this.onIdle();
    await quit(this.client);
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
