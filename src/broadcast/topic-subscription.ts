/**
 * One member of a topic's subscriber group: reads, runs the handler, acknowledges.
 *
 * Responsible for: joining the group (creating it at its start point); keeping up to
 * `concurrency` handlers busy, blocking on the stream while idle (no polling); taking over
 * messages whose lease ran out (a crashed member's, or failed ones due another attempt)
 * and dead-lettering those past their attempts; aborting handlers whose message the
 * heartbeat (TopicHeartbeat) found taken over; acknowledging in batches, only after a
 * handler resolved and only messages it still holds; graceful close. The atomic steps are
 * the topic-*.lua scripts.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { ClosedError, describeError, ValidationError } from '../errors.js';
import { closeClient, openClient, openDedicatedClient, type OwnedClient } from '../redis/connection.js';
import { TOPIC_MESSAGE_FIELD, TOPIC_TRACE_FIELD, type TopicKeys } from '../redis/keys.js';
import { startConsumeSpan, type WorkSpan } from '../tracing.js';
import { runScript, type RedisClient } from '../redis/scripts.js';
import * as scripts from '../redis/topic-scripts.js';
import { Status } from '../redis/status.js';
import { DEAD_LETTERS_KEPT, type ResolvedSubscribeOptions, type ResolvedTopicOptions } from './options.js';
import { publishedAt, startPosition } from './stream-ids.js';
import { TopicHeartbeat } from './topic-heartbeat.js';
import type { SubscriptionCloseOptions, TopicHandler, TopicMessageMeta, TopicSubscriptionEvents } from './topic-types.js';

export type { SubscriptionCloseOptions, TopicHandler, TopicMessageMeta, TopicSubscriptionEvents } from './topic-types.js';

interface Flight {
  meta: TopicMessageMeta;
  controller: AbortController;
  lost: boolean;
}

interface TopicContext {
  topic: string;
  keys: TopicKeys;
  topicOptions: ResolvedTopicOptions;
}

type ReadReply = [stream: string, entries: [id: string, fields: string[]][]][] | null;

const MAX_ERROR_DELAY_MS = 5_000;
const MAX_STACK_CHARS = 4_000;

export class TopicSubscription<M = unknown> extends EventEmitter<TopicSubscriptionEvents> {
  readonly topic: string;
  readonly group: string;
  /** This member's name in the group. */
  readonly consumer: string;
  readonly options: ResolvedSubscribeOptions;
  private readonly keys: TopicKeys;
  private readonly connection: OwnedClient;
  private readonly blocker: RedisClient;
  /** How long one blocking read waits; also how often idle members look for lapsed leases. */
  private readonly blockMs: number;
  private readonly flights = new Map<string, Flight>();
  private acks: Flight[] = [];
  private ackFlush: Promise<void> | undefined;
  private readonly joined: Promise<void>;
  private readonly loop: Promise<void>;
  private wake: (() => void) | undefined;
  private drained: (() => void) | undefined;
  private readonly heartbeat: TopicHeartbeat;
  private cursor = '0-0';
  private lastReclaimAt = 0;
  private errorDelayMs = 0;
  private stopping = false;
  private closing: Promise<void> | undefined;

  constructor(
    context: TopicContext,
    group: string,
    private readonly handler: TopicHandler<M>,
    options: ResolvedSubscribeOptions,
  ) {
    super();
    this.topic = context.topic;
    this.keys = context.keys;
    this.group = group;
    this.options = options;
    this.consumer = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.blockMs = Math.min(5_000, Math.max(20, Math.floor(options.leaseMs / 2)));
    this.connection = openClient(context.topicOptions.connection, { patient: true });
    this.blocker = openDedicatedClient(context.topicOptions.connection, { patient: true, blocking: true });
    if (this.connection.owned) this.connection.client.on('error', (error: Error) => this.report(error));
    this.blocker.on('error', () => {}); // the command client reports the same outage once
    this.heartbeat = new TopicHeartbeat({
      client: this.connection.client,
      keys: this.keys,
      group,
      consumer: this.consumer,
      leaseMs: options.leaseMs,
      held: () => [...this.flights.keys()],
      onLost: (ids) => this.onLost(ids),
      onError: (error) => this.report(error),
    });
    this.joined = this.join();
    this.joined.catch(() => {}); // ready() hands the rejection to whoever asks
    this.loop = this.joined.then(() => this.run()).catch(() => {});
  }

  /** Resolves once the group exists and this member reads; rejects if closed first. */
  ready(): Promise<void> {
    return this.joined;
  }

  /** Messages this member's handlers are running on. */
  get running(): number {
    return this.flights.size;
  }

  /**
   * Stops reading, lets running handlers finish (up to `timeoutMs`), acknowledges what
   * finished, and leaves the group if it holds nothing. Messages still running at the
   * deadline stay pending: another member takes them over once their leases run out.
   */
  close({ timeoutMs = 30_000 }: SubscriptionCloseOptions = {}): Promise<void> {
    this.closing ??= this.shutDown(timeoutMs);
    return this.closing;
  }

  // ---- reading ----

  private get client(): RedisClient {
    return this.connection.client;
  }

  /** Creates the group at its start point unless it exists; retried until it works. */
  private async join(position = startPosition(this.options.from)): Promise<void> {
    for (;;) {
      if (this.stopping) throw new ClosedError(`subscription of group "${this.group}"`);
      try {
        await runScript(this.client, scripts.join(this.keys, { group: this.group, start: position, move: false }));
        if (!this.stopping) this.heartbeat.start();
        return;
      } catch (error) {
        this.report(error as Error);
        await this.pause();
      }
    }
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const free = this.options.concurrency - this.flights.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      try {
        if (Date.now() - this.lastReclaimAt >= this.blockMs) {
          await this.reclaim(free);
          continue; // capacity changed; reclaim again at once if the scan is not done
        }
        const reply = (await this.blocker.xreadgroup(
          'GROUP', this.group, this.consumer,
          'COUNT', free,
          'BLOCK', this.blockMs,
          'STREAMS', this.keys.stream, '>',
        )) as ReadReply;
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) this.start(id, fieldOf(fields, TOPIC_MESSAGE_FIELD), 1, fieldOf(fields, TOPIC_TRACE_FIELD) ?? '');
        }
        this.errorDelayMs = 0;
      } catch (error) {
        if (this.stopping) break;
        if (error instanceof Error && /NOGROUP/.test(error.message)) {
          // The stream or group was deleted (or Redis restarted without persistence):
          // join again, from whatever the stream holds now.
          await this.join('0').catch(() => {});
          continue;
        }
        this.report(error as Error);
        await this.pause();
      }
    }
  }

  /** Takes over messages whose lease ran out; dead-letters those past their attempts. */
  private async reclaim(free: number): Promise<void> {
    const { leaseMs, attempts } = this.options;
    const { cursor, taken, dead } = await runScript(
      this.client,
      scripts.reclaim(this.keys, {
        group: this.group,
        consumer: this.consumer,
        leaseMs,
        cursor: this.cursor,
        max: free,
        attempts,
        deadLettersKept: DEAD_LETTERS_KEPT,
        pruneIdleMs: 2 * leaseMs + 10_000,
      }),
    );
    this.cursor = cursor;
    // A scan that did not reach the end goes on at the next turn; otherwise wait a while.
    this.lastReclaimAt = this.cursor === '0-0' ? Date.now() : 0;
    for (const { id, message, attempt } of taken) this.start(id, message, attempt);
    if (dead.length) this.safeEmit('exhausted', dead);
  }

  // ---- handling ----

  /** `traceparent`: the publisher's context, for the span of a first delivery ('' for none). */
  private start(id: string, text: string | null, attempt: number, traceparent = ''): void {
    if (this.flights.has(id)) return; // our own, taken back after a late heartbeat: already running
    const controller = new AbortController();
    const meta: TopicMessageMeta = {
      id,
      topic: this.topic,
      group: this.group,
      attempt,
      publishedAt: publishedAt(id),
      signal: controller.signal,
    };
    const flight: Flight = { meta, controller, lost: false };
    this.flights.set(id, flight);
    const span = startConsumeSpan(this.topic, this.group, meta, traceparent);
    if (!span) {
      void this.handle(flight, text);
      return;
    }
    void span.run(() => this.handle(flight, text, span));
  }

  private async handle(flight: Flight, text: string | null, span?: WorkSpan): Promise<void> {
    let message: M;
    try {
      message = JSON.parse(text ?? '') as M;
    } catch {
      // No attempt can decode it: it goes to the dead letters at once.
      const error = new ValidationError(`message ${flight.meta.id} of topic "${this.topic}" is not JSON: ${String(text).slice(0, 100)}`);
      await this.fail(flight, error, true);
      return;
    }
    try {
      await this.handler(message, flight.meta);
      span?.end('acknowledged');
      this.finish(flight);
      if (!flight.lost) this.queueAck(flight);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      span?.end('failed', failure);
      await this.fail(flight, failure, false);
    }
  }

  private finish(flight: Flight): void {
    this.flights.delete(flight.meta.id);
    this.wake?.();
    this.wake = undefined;
    if (this.flights.size === 0) this.drained?.();
  }

  /** Records a failed attempt; the message counts as running until that is written. */
  private async fail(flight: Flight, error: Error, undecodable: boolean): Promise<void> {
    try {
      if (flight.lost) return;
      const info = describeError(error);
      if (info.stack && info.stack.length > MAX_STACK_CHARS) info.stack = info.stack.slice(0, MAX_STACK_CHARS);
      const code = await runScript(
        this.client,
        scripts.fail(this.keys, {
          group: this.group,
          consumer: this.consumer,
          id: flight.meta.id,
          attempts: this.options.attempts,
          errorJson: JSON.stringify(info),
          deadLettersKept: DEAD_LETTERS_KEPT,
          now: undecodable,
        }),
      );
      if (code === Status.LEASE_LOST) this.safeEmit('lost', flight.meta);
      else this.safeEmit('failed', flight.meta, error, code === Status.DEAD_LETTERED);
    } catch (writeError) {
      // Not recorded: the message stays pending and is tried again once its lease runs out.
      this.report(writeError as Error);
    } finally {
      this.finish(flight);
    }
  }

  private queueAck(flight: Flight): void {
    this.acks.push(flight);
    this.ackFlush ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flushAcks());
  }

  /** Acknowledges every finished message in one script call. */
  private async flushAcks(): Promise<void> {
    const batch = this.acks;
    this.acks = [];
    try {
      const lost = new Set(
        await runScript(this.client, scripts.ack(this.keys, { group: this.group, consumer: this.consumer, ids: batch.map((flight) => flight.meta.id) })),
      );
      for (const flight of batch) this.safeEmit(lost.has(flight.meta.id) ? 'lost' : 'completed', flight.meta);
    } catch (error) {
      // Not acknowledged: the messages stay pending and are handled again after their
      // leases run out (at least once, as promised).
      this.report(error as Error);
    } finally {
      this.ackFlush = undefined;
      if (this.acks.length) this.ackFlush = this.flushAcks();
    }
  }

  /** The heartbeat found messages taken over by another member: abort their handlers. */
  private onLost(ids: string[]): void {
    for (const id of ids) {
      const flight = this.flights.get(id);
      if (!flight || flight.lost) continue;
      flight.lost = true;
      flight.controller.abort(new Error(`lease on message ${id} was lost: another member of group "${this.group}" took it over`));
      this.safeEmit('lost', flight.meta);
    }
  }

  // ---- closing ----

  private async shutDown(timeoutMs: number): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.blocker.disconnect(); // ends a blocking read at once
    let timer: NodeJS.Timeout | undefined;
    let expired = false;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(() => resolve(void (expired = true)), timeoutMs)));
    // Everything below waits on Redis too; with Redis away, the deadline ends the wait.
    await Promise.race([this.loop, deadline]);
    if (this.flights.size) await Promise.race([new Promise<void>((resolve) => (this.drained = resolve)), deadline]);
    for (const flight of this.flights.values()) flight.controller.abort(new ClosedError(`subscription of group "${this.group}"`));
    while (this.ackFlush && !expired) await Promise.race([this.ackFlush, deadline]);
    if (!expired) await Promise.race([this.heartbeat.stop(), deadline]);
    else void this.heartbeat.stop();
    if (!expired && this.flights.size === 0) {
      try {
        await Promise.race([runScript(this.client, scripts.leave(this.keys, { group: this.group, consumer: this.consumer })), deadline]);
      } catch (error) {
        this.report(error as Error); // only a stale member entry is left behind; others prune it
      }
    }
    clearTimeout(timer);
    await closeClient(this.connection);
    this.safeEmit('closed');
  }

  /** Waits before trying again after an error: 100 ms doubling to 5 s; ends early on close. */
  private pause(): Promise<void> {
    this.errorDelayMs = Math.min(Math.max(this.errorDelayMs * 2, 100), MAX_ERROR_DELAY_MS);
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.errorDelayMs);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private report(error: Error): void {
    if (this.listenerCount('error') > 0) this.safeEmit('error', error);
    else console.error(`[errand] topic "${this.topic}" group "${this.group}" member ${this.consumer}: ${error.message}`);
  }

  /** Listeners are user code: one that throws must not break the member. */
  private safeEmit<K extends keyof TopicSubscriptionEvents>(event: K, ...args: TopicSubscriptionEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: TopicSubscriptionEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      if (event !== 'error') this.report(error as Error);
    }
  }
}

function fieldOf(fields: string[], name: string): string | null {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1] ?? null;
  return null;
}
