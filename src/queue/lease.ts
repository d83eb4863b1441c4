/**
 * The lease keeper: one worker's heartbeat.
 *
 * Every leaseMs/3 it extends all of the worker's live leases in one script call, records
 * the worker as alive (for the dashboard), reaps leases other workers let expire (so
 * stalled tasks come back even while every slot here is busy), and fires schedule slots
 * that fell due, learning when the next one is (a schedule declared while every handler
 * here is busy is seen within a beat). Leases the heartbeat
 * finds lost are reported, so their handlers can be aborted. After each beat it runs the
 * flow sweep (src/flows/hand-over.ts), apart from the beat itself.
 */
import type { QueueKeys } from '../redis/keys.js';
import * as scripts from '../redis/queue-scripts.js';
import type { HeldLease } from '../redis/queue-scripts.js';
import * as scheduleScripts from '../redis/schedule-scripts.js';
import type { FireReply } from '../redis/schedule-scripts.js';
import { forgetLibrary, isFunctionMissing } from '../redis/functions.js';
import { pipeScript, prepareScripts, type RedisClient } from '../redis/scripts.js';

export interface LeaseKeeperOptions {
  client: RedisClient;
  keys: QueueKeys;
  workerId: string;
  leaseMs: number;
  /** The leases to extend, read at each beat. */
  leases(): Iterable<HeldLease>;
  /** What the worker says about itself at each beat (a JSON object's fields). */
  describe(): Record<string, unknown>;
  onLost(ids: string[]): void;
  /** The heartbeat's schedule-fire: when the next schedule slot is, and whether cron slots are wanted. */
  onSchedules(reply: FireReply): void;
  onError(error: Error): void;
  /** After each beat: the flow sweep (notices a crashed worker left, releases cut short). */
  sweep?(): Promise<void>;
}

/** Replies saying a call did not run because its slot is elsewhere or moving. */
const REDIRECTED = /^(ASK|MOVED|TRYAGAIN|CLUSTERDOWN) /;
/** Beats sent again, spread over a third of a lease, while a slot migrates. */
const REDIRECT_RETRIES = 5;

/** Expired leases one heartbeat reaps at most (the rest at the next beat or claim). */
const REAP_PER_BEAT = 100;

export class LeaseKeeper {
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly options: LeaseKeeperOptions) {}

  start(): void {
    if (this.timer) return;
    const intervalMs = Math.max(10, Math.floor(this.options.leaseMs / 3));
    this.timer = setInterval(() => void this.tick(), intervalMs);
    void this.tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
    await this.sweeping;
  }

  /** A beat, then the flow sweep (apart from the beat: a beat asked for meanwhile need not wait for it). */
  private async tick(): Promise<void> {
    await this.beat();
    if (!this.options.sweep || this.sweeping || !this.timer) return;
    this.sweeping = this.options
      .sweep()
      .catch((error: Error) => this.options.onError(error)) // idempotent: what this sweep missed, the next one applies
      .finally(() => (this.sweeping = undefined));
  }

  /** One heartbeat; a beat still in flight (Redis slow or down) makes this one a no-op. */
  beat(): Promise<void> {
    this.beating ??= this.send().finally(() => (this.beating = undefined));
    return this.beating;
  }

  private async send(reloaded = false, redirected = 0): Promise<void> {
    const { client, keys, workerId, leaseMs } = this.options;
    const leases = [...this.options.leases()];
    const pipeline = client.pipeline();
    const extended = pipeScript(pipeline, scripts.extend(keys, { leaseMs, workerId, descriptionJson: JSON.stringify(this.options.describe()), leases }));
    pipeScript(pipeline, scripts.reap(keys, { max: REAP_PER_BEAT }));
    const fired = pipeScript(pipeline, scheduleScripts.fireSchedules(keys));
    try {
      const replies = (await pipeline.exec()) ?? [];
      const [extendError, reply] = replies[0] ?? [];
      if (extendError) throw extendError;
      if (replies[1]?.[0]) throw replies[1][0];
      if (replies[2]?.[0]) throw replies[2][0];
      const lost = extended(reply);
      if (lost.length) this.options.onLost(lost);
      this.options.onSchedules(fired(replies[2]?.[1]));
    } catch (error) {
      // A missed beat is survivable (leases last three beats); report it and beat again next
      // tick (loading the scripts' library first, if the server lacked it).
      // A call that found the library missing did not run (a beat's calls go to one server,
      // which lacked it for all): load it and beat again at once, once.
      if (isFunctionMissing(error) && !reloaded) {
        forgetLibrary(client);
        await prepareScripts(client);
        return this.send(true, redirected);
      }
      // A slot migrating (a reshard) refuses the beat's calls while their keys move (ASK,
      // then TRYAGAIN on the importing node, more often than ioredis's redirection budget
      // for a pipeline allows): they did not run. Beat again shortly, within a third of a
      // lease, before calling it a missed beat.
      if (REDIRECTED.test((error as Error).message) && redirected < REDIRECT_RETRIES && this.timer) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(10, Math.floor(this.options.leaseMs / 3 / (REDIRECT_RETRIES + 1)))));
        return this.send(reloaded, redirected + 1);
      }
      this.options.onError(error as Error);
    }

  }
}
