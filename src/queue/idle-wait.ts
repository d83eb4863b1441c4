/**
 * A worker's idle wait.
 *
 * Responsible for: blocking on the queue's wake marker (BZPOPMIN, on a connection of its
 * own) until work is announced or something falls due, with a claim pipelined behind the
 * pop on the same connection, so Redis runs it the moment the pop returns and announced
 * work reaches a handler in one hop from Redis, not two; and ending a wait at close with
 * CLIENT UNBLOCK from the command connection, so the pipelined claim still runs and its
 * reply (tasks leased to this worker) is read, not lost. The blocking connection never
 * has a command timeout: a timed-out wait's claim would lease tasks to no one.
 */
import { Cluster } from 'ioredis';
import type { ConnectionOption } from '../config.js';
import { openDedicatedClient, quit, settledWithin } from '../redis/connection.js';
import type { ClaimReply } from '../redis/queue-scripts.js';
import { knownMode } from '../redis/functions.js';
import { WAKE_MEMBER } from '../redis/keys.js';
import { prepareScripts, runScript, type RedisClient, type ScriptCall } from '../redis/scripts.js';

/** How long close() waits for an unblocked idle wait's claim to be answered. */
const UNBLOCK_TIMEOUT_MS = 2_000;

export class IdleWait {
  private readonly blocker: RedisClient;
  /** The wait in flight, and the blocker's client id (for CLIENT UNBLOCK). */
  private waiting: Promise<unknown> | undefined;
  private blockerId: number | undefined;
  private stopped = false;

  constructor(connection: ConnectionOption | undefined) {
    this.blocker = openDedicatedClient(connection, { patient: true, blocking: true });
    this.blocker.on('error', () => {}); // the command client reports the same outage once
    // A reconnected blocker has a new client id, unknown while it blocks: stop() disconnects it.
    this.blocker.on('close', () => (this.blockerId = undefined));
  }

  /** A wait is in flight. */
  get blocked(): boolean {
    return this.waiting !== undefined;
  }

  /**
   * Blocks on `wakeKey` for up to `waitMs`, then runs `claim`; resolves with the claim's
   * outcome (settled: a failed claim is the caller's to report). Without a claim (a worker
   * of several partitions, whose free slots any partition may take), resolves with the
   * pop's reply once woken (the marker it took) or timed out (null): the caller claims then.
   */
  wait(wakeKey: string, waitMs: number, claim: ScriptCall<ClaimReply>): Promise<PromiseSettledResult<ClaimReply>>;
  wait(wakeKey: string, waitMs: number, claim: undefined): Promise<PromiseSettledResult<unknown>>;
  wait(wakeKey: string, waitMs: number, claim: ScriptCall<ClaimReply> | undefined): Promise<PromiseSettledResult<unknown>> {
    const { blocker } = this;
    // The scripts' library is loaded on the blocker before its first pop: loading behind a
    // pop would wait for it, and the claim must follow the pop on the connection, not a load.
    const prepared = knownMode(blocker) ? undefined : prepareScripts(blocker);
    const done = (prepared ?? Promise.resolve())
      .then((): Promise<PromiseSettledResult<unknown>[]> | PromiseSettledResult<ClaimReply>[] => {
        if (this.stopped) return [{ status: 'rejected', reason: new Error('closed') }];
        // A Cluster routes CLIENT elsewhere: a wait on one is disconnected at close instead.
        if (!(blocker instanceof Cluster)) {
          blocker.client('ID').then((id) => (this.blockerId = Number(id)), () => {});
        }
        const woke = blocker.bzpopmin(wakeKey, (waitMs / 1000).toFixed(3));
        const claimed = claim ? runScript(blocker, claim) : woke;
        return Promise.allSettled([claimed, woke]);
      })
      .then(([result]) => {
        this.waiting = undefined;
        this.blockerId = undefined;
        return result as PromiseSettledResult<unknown>;
      });
    this.waiting = done;
    return done;
  }

  /**
   * Ends a wait in flight now, its claim run and answered as if woken, without stopping
   * later waits (a worker whose queue was partitioned meanwhile: the slots that claim holds
   * are wanted by the other partitions). Where CLIENT UNBLOCK cannot reach the blocker (a
   * Cluster, or its id not known yet), the wake marker is set instead.
   */
  interrupt(commands: RedisClient, wakeKey: string): void {
    if (!this.waiting) return;
    if (this.blockerId !== undefined && !(commands instanceof Cluster)) commands.client('UNBLOCK', this.blockerId).catch(() => {});
    else commands.zadd(wakeKey, 0, WAKE_MEMBER).catch(() => {});
  }

  /** Ends a wait in flight: unblocked, its claim runs and is answered (disconnected if that fails). */
  async stop(commands: RedisClient): Promise<void> {
    this.stopped = true;
    const { waiting, blockerId } = this;
    if (waiting && blockerId !== undefined && !(commands instanceof Cluster)) {
      await settledWithin(commands.client('UNBLOCK', blockerId).then(() => waiting), UNBLOCK_TIMEOUT_MS);
    }
    this.blocker.disconnect(); // ends a wait still pending (its claim then never runs)
    // A client that was reconnecting keeps its queued commands past a disconnect: not waited for.
    if (this.waiting) await settledWithin(this.waiting, UNBLOCK_TIMEOUT_MS);
  }

  async close(): Promise<void> {
    await quit(this.blocker);
  }
}
