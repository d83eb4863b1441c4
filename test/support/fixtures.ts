/**
 * Test fixtures: a real redis-server per test file, a key prefix per test, and a scope
 * that closes every Queue and Worker a test made and fails the test on any `error` event
 * it did not expect.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { Redis } from 'ioredis';
import { Admin } from '../../src/admin/admin.js';
import { Queue, Worker, type Handler, type QueueOptions, type WorkerOptions } from '../../src/index.js';
import { RedisServer, type RedisServerOptions } from './redis-server.js';

export interface RedisFixture {
  readonly server: RedisServer;
  readonly url: string;
}

/** Starts one redis-server for the current test file; stopped after its last test. */
export function useRedis(options: RedisServerOptions = {}): RedisFixture {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await RedisServer.start(options);
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server() {
      if (!server) throw new Error('the Redis fixture is not started yet (use it inside a test)');
      return server;
    },
    get url() {
      return this.server.url;
    },
  };
}

export function uniquePrefix(): string {
  return `t${randomUUID().slice(0, 8)}`;
}

interface Closable {
  close(): Promise<void>;
}

/**
 * Everything one test creates. `scope()` registers an afterEach that closes it all and
 * asserts that no worker reported an error the test did not expect (`expectErrors`).
 */
export class TestScope {
  readonly prefix = uniquePrefix();
  readonly errors: Error[] = [];
  private readonly closables: Closable[] = [];
  private allowErrors = false;

  constructor(private readonly redis: RedisFixture) {}

  queue<P = unknown, R = unknown>(name = 'q', options: QueueOptions = {}): Queue<P, R> {
    const queue = new Queue<P, R>(name, { connection: this.redis.url, prefix: this.prefix, ...options });
    this.closables.push(queue);
    return queue;
  }

  /** A worker (`handler`: a function, or an isolated worker's module URL), closed with the scope. */
  worker<P = unknown, R = unknown>(name: string, handler: Handler<P, R> | URL, options: WorkerOptions = {}): Worker<P, R> {
    const worker = new Worker<P, R>(name, handler, { connection: this.redis.url, prefix: this.prefix, ...options });
    worker.on('error', (error) => this.errors.push(error));
    this.closables.push({ close: () => worker.close({ timeoutMs: 2_000 }) });
    return worker;
  }

  /** A raw client, for assertions on keys; closed with the scope. */
  client(): Redis {
    const client = new Redis(this.redis.url);
    this.closables.push({ close: async () => void client.disconnect() });
    return client;
  }

  /** A queue's lifetime counters (enqueued, completed, failed), read through the admin layer. */
  totals(queue: string): ReturnType<Admin['totals']> {
    return this.add(new Admin({ connection: this.redis.url, prefix: this.prefix })).totals(queue);
  }

  /** Say so when a test provokes worker errors on purpose (Redis restarts, ...). */
  expectErrors(): void {
    this.allowErrors = true;
  }

  add<T extends Closable>(closable: T): T {
    this.closables.push(closable);
    return closable;
  }

  async close(): Promise<void> {
    const closables = this.closables.splice(0).reverse();
    await Promise.all(closables.map((closable) => closable.close()));
    if (!this.allowErrors) expect(this.errors.map((error) => error.message)).toEqual([]);
  }
}

/** A fresh TestScope per test, closed (and checked) after each. */
export function useScope(redis: RedisFixture): () => TestScope {
  let current: TestScope | undefined;
  afterEach(async () => {
    const scope = current;
    current = undefined;
    await scope?.close();
  });
  return () => (current ??= new TestScope(redis));
}

/** Resolves with the arguments of the next `event` emitted by `emitter`. */
export function next<T extends unknown[]>(emitter: NodeJS.EventEmitter, event: string): Promise<T> {
  return once(emitter, event) as Promise<T>;
}

/** A promise with its resolve exposed: lets a test hold a handler until it says so. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: Error) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
