/**
 * The legacy list bridge: moves items that existing apps LPUSH into a plain Redis list
 * (the list a `BLPOP` loop used to consume) into an Errand queue, where workers give them
 * leases, retries and results.
 *
 * Responsible for: checking the list before anything moves (a list or nothing; on the same
 * node as the queue); moving items in batches with the adopt-list script, which pops and
 * creates tasks in one atomic step, so an item is always either in the list or a task,
 * whenever the bridge dies; waiting for new items without polling and without taking
 * them out of the list (BLMOVE of the list onto itself, which changes nothing); waiting
 * while the queue is full (maxWaiting).
 */
import { EventEmitter } from 'node:events';
import { Cluster } from 'ioredis';
import { z } from 'zod';
import { DEFAULT_ATTEMPTS, defaultTaskOptionsSchema, parseOptions, type ResolvedQueueOptions } from '../config.js';
import { ValidationError } from '../errors.js';
import { closeClient, openClient, openDedicatedClient, orUnavailable, type OwnedClient } from '../redis/connection.js';
import { queuesKey, type QueueKeys } from '../redis/keys.js';
import * as scripts from '../redis/queue-scripts.js';
import { runScript, type RedisClient } from '../redis/scripts.js';
import { slotOf } from '../redis/slot.js';

/** What a bridge needs of the queue it fills (its Queue passes itself). */
export interface BridgedQueue {
  readonly name: string;
  readonly keys: QueueKeys;
  readonly options: ResolvedQueueOptions;
}

const adoptListOptionsSchema = z
  .object({
    ...defaultTaskOptionsSchema.shape,
    /** Most items moved per script call. Default 100. */
    batchSize: z.number().int().min(1).max(1000).default(100),
  })
  .strict();

export type AdoptListOptions = z.input<typeof adoptListOptionsSchema>;

export interface ListBridgeEvents {
  /** Items became tasks; their ids, oldest item first. */
  adopted: [ids: string[]];
  /** A problem of the bridge itself (Redis unreachable, ...). It keeps going. */
  error: [error: Error];
  closed: [];
}

/** How long a blocking wait for new items lasts before the bridge looks again. */
const WAIT_SECONDS = 10;
/** How often a bridge whose queue is full (maxWaiting) looks for room. */
const FULL_RECHECK_MS = 1_000;
const MAX_ERROR_DELAY_MS = 5_000;

export class ListBridge extends EventEmitter<ListBridgeEvents> {
  /** Items moved into the queue by this bridge so far. */
  adopted = 0;
  private readonly connection: OwnedClient;
  private readonly blocker: RedisClient;
  private readonly request: scripts.AdoptRequest;
  private loop: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private errorDelayMs = 0;

  /** @internal Use `queue.adoptList(listKey, options)`. */
  constructor(
    private readonly queue: BridgedQueue,
    readonly listKey: string,
    options: z.output<typeof adoptListOptionsSchema>,
  ) {
    super();
    const defaults = queue.options.defaultTaskOptions ?? {};
    const backoff = options.backoff ?? defaults.backoff;
    const timeoutMs = options.timeoutMs ?? defaults.timeoutMs;
    this.request = {
      max: options.batchSize,
      priority: options.priority ?? defaults.priority ?? 0,
      maxAttempts: options.attempts ?? defaults.attempts ?? DEFAULT_ATTEMPTS,
      backoffJson: backoff ? JSON.stringify(backoff) : '',
      timeoutMs,
    };
    this.connection = openClient(queue.options.connection, { patient: true });
    this.blocker = openDedicatedClient(queue.options.connection, { patient: true, blocking: true });
    if (this.connection.owned) this.connection.client.on('error', (error: Error) => this.report(error));
    this.blocker.on('error', () => {}); // the command client reports the same outage once
  }

  /** @internal Checks the list (rejecting with ValidationError), then starts moving items. */
  async start(): Promise<void> {
    const { client } = this.connection;
    if (client instanceof Cluster) {
      const [listSlot, queueSlot] = [slotOf(this.listKey), slotOf(this.queue.keys.meta)];
      if (listSlot !== queueSlot) {
        throw new ValidationError(
          `list "${this.listKey}" is in cluster slot ${listSlot}, queue "${this.queue.name}" in slot ${queueSlot}: ` +
            `the bridge moves items atomically only within one slot, so use a list key containing {${this.queue.name}}, or a non-cluster Redis`,
        );
      }
    }
    const type = await orUnavailable(client.type(this.listKey));
    if (type !== 'list' && type !== 'none') {
      throw new ValidationError(`key "${this.listKey}" holds a ${type}, not a list: name the list your producers LPUSH into`);
    }
    await orUnavailable(client.sadd(queuesKey(this.queue.options.prefix), this.queue.name));
    this.loop = this.run();
  }

  /** Stops moving items; a batch in flight completes (it is atomic) before this resolves. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async run(): Promise<void> {
    const adopt = scripts.adoptList(this.queue.keys, this.listKey, this.request);
    while (!this.stopping) {
      try {
        const reply = await runScript(this.connection.client, adopt);
        if (reply.full) {
          await this.pause(FULL_RECHECK_MS);
          continue;
        }
        const { ids } = reply;
        if (ids.length) {
          this.adopted += ids.length;
          this.safeEmit('adopted', ids);
        }
        if (ids.length < this.request.max && !this.stopping) {
          // The list looked empty: wait for an item. Moving the last item onto the same end
          // of the same list changes nothing, so nothing is ever out of the list meanwhile.
          await this.blocker.blmove(this.listKey, this.listKey, 'RIGHT', 'RIGHT', WAIT_SECONDS);
        }
        this.errorDelayMs = 0;
      } catch (error) {
        if (this.stopping) break;
        this.report(error as Error);
        this.errorDelayMs = Math.min(Math.max(this.errorDelayMs * 2, 100), MAX_ERROR_DELAY_MS);
        await this.pause(this.errorDelayMs);
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async shutDown(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.blocker.disconnect(); // ends a blocking wait at once
    await this.loop;
    await closeClient(this.connection);
    this.safeEmit('closed');
  }

  private report(error: Error): void {
    if (this.listenerCount('error') > 0) this.safeEmit('error', error);
    else console.error(`[errand] list bridge "${this.listKey}" -> queue "${this.queue.name}": ${error.message}`);
  }

  private safeEmit<K extends keyof ListBridgeEvents>(event: K, ...args: ListBridgeEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: ListBridgeEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      if (event !== 'error') this.report(error as Error);
    }
  }
}

const LIST_KEY_MAX_CHARS = 1024;

/** Validates, checks the list, and starts a bridge from `listKey` into `queue`. */
export async function adoptList(queue: BridgedQueue, listKey: string, input?: AdoptListOptions): Promise<ListBridge> {
  if (typeof listKey !== 'string' || listKey.length === 0 || listKey.length > LIST_KEY_MAX_CHARS) {
    throw new ValidationError(`invalid list key ${JSON.stringify(listKey)}: name the Redis list (1-${LIST_KEY_MAX_CHARS} characters)`);
  }
  if (listKey.startsWith(queue.keys.base)) {
    throw new ValidationError(`list key "${listKey}" belongs to queue "${queue.name}" itself: name the list your producers LPUSH into`);
  }
  const options = parseOptions('adoptList options', adoptListOptionsSchema, input);
  const bridge = new ListBridge(queue, listKey, options);
  try {
    await bridge.start();
  } catch (error) {
    await bridge.close();
    throw error;
  }
  return bridge;
}
