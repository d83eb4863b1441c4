/**
 * The worker's pump: each turn is one round trip that records finished handlers and
 * claims work for free slots.
 *
 * Responsible for: batching the completions and failures recorded since the last turn and
 * sending them with a claim in one script call where it can (complete-claim), else in calls
 * written back to back; keeping two round trips in flight, so Redis runs one batch while
 * this process handles the replies of the other; emitting each outcome once Redis recorded
 * it; putting back a batch whose call failed and trying again with a growing delay;
 * deciding after each claim whether more work is likely (claim again at once) or not (the
 * idle wait, until work is announced or something falls due); firing schedule slots when
 * they fall due (busy or idle); with
 * `durability`, sending finishes with a WAIT for replicas. What runs handlers is the HandlerRunner's job; the
 * blocking wait is IdleWait's.
 */
import type { Durability } from '../config.js';
import type { LeaseLostError, RateLimitedError } from '../errors.js';
import { runReplicated, shortfall } from '../redis/durability.js';
import { WAKE_MEMBER, type QueueKeys } from '../redis/keys.js';
import * as scripts from '../redis/queue-scripts.js';
import * as scheduleScripts from '../redis/schedule-scripts.js';
import type { FireReply } from '../redis/schedule-scripts.js';
import { runScript, type RedisClient, type ScriptCall } from '../redis/scripts.js';
import { Status, type StatusCode } from '../redis/status.js';
import type { Finish } from './handler-runner.js';
import type { IdleWait } from './idle-wait.js';
import type { ActiveTask } from './task.js';

/**
 * Round trips a worker keeps in flight: with two, Redis runs one batch while this process
 * handles the replies of the other, instead of each waiting on the other in turn.
 */
const MAX_TRIPS_IN_FLIGHT = 2;
/** The longest an idle worker blocks before claiming once more, whatever it expects. */
const MAX_IDLE_WAIT_MS = 10_000;

/** How long an idle wait blocks, given a claim's due time (-1: nothing due). */
function idleWaitMs(dueInMs: number): number {
  return dueInMs < 0 ? MAX_IDLE_WAIT_MS : Math.min(MAX_IDLE_WAIT_MS, dueInMs + 5);
}

export interface PumpOptions<P> {
  client: RedisClient;
  keys: QueueKeys;
  concurrency: number;
  leaseMs: number;
  durability: Durability | undefined;
  /** Runs handlers: how many run now, and where claimed tasks go. */
  runner: { readonly busy: number; start(claimed: scripts.ClaimedTask): void };
  /**
   * A worker of a partitioned queue has a pump per partition, and they share its slots:
   * how many this pump may claim now (`free`: the worker gives partitions turns) and how
   * many are free over all of them (`room`). Its idle waits then claim nothing (the slots
   * they would hold are any partition's): woken, the pump claims when it may.
   */
  shared?: SharedSlots;
  idle: IdleWait;
  onCompleted(task: ActiveTask<P>, value: unknown): void;
  onFailed(task: ActiveTask<P>, error: Error, willRetry: boolean): void;
  onLost(task: ActiveTask<P>, error: LeaseLostError): void;
  /** A RateLimitedError was recorded: the task is back in line, its scope held. */
  onDeferred(task: ActiveTask<P>, error: RateLimitedError): void;
  report(error: Error): void;
  lostError(id: string): LeaseLostError;
  /** A claim said cron schedules wait for their slots to be computed. */
  onSchedulesWaiting(): void;
  /**
   * Flow children reached a final state: their notices are to be applied to their parents
   * (`notice`: the notice, when the completion's answer told enough to write it out).
   */
  onFlowFinal(children: { id: string; notice?: string }[]): void;
}

/** A worker's slots, shared by the pumps of its partitions (PumpOptions.shared). */
export interface SharedSlots {
  free(): number;
  room(): number;
  returned(): void;
}

type Completion<P> = Extract<Finish<P>, { kind: 'done' }>;
type Failure<P> = Extract<Finish<P>, { kind: 'failed' }>;
type Deferral<P> = Extract<Finish<P>, { kind: 'deferred' }>;

export class Pump<P> {
  /** Claims are made while this is set (run() to close()). */
  claiming = false;
  private completions: Completion<P>[] = [];
  private failures: Failure<P>[] = [];
  /** RateLimitedErrors to record (rare: sent on their own, beside the round trips). */
  private deferrals: Deferral<P>[] = [];
  private deferring: Promise<void> | undefined;
  /** Round trips in flight, and how many tasks their claims asked for. */
  private readonly trips = new Set<Promise<void>>();
  private claimsInFlight = 0;
  private readonly claimBatch: number;
  /**
   * The last claim got all it asked for, so more work is probably waiting: claims then
   * overlap. After a short claim the worker blocks on the wake marker instead, and a wake
   * sends one claim, not two (the second would find nothing and cost a script call).
   */
  private backlog = true;
  private again = false;
  private scheduled = false;
  private retryDelayMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Fires the next schedule slot at its time (see noteScheduleDue). */
  private scheduleTimer: NodeJS.Timeout | undefined;
  private firing: Promise<void> | undefined;
  /** After a failed fire, not before this (epoch ms). */
  private fireRetryAt = 0;
  /** Stopped for good (see stop()). */
  private stopped = false;
  /** When the idle wait in flight times out at the latest (epoch ms; see onClaim). */
  private idleUntil = 0;

  constructor(private readonly options: PumpOptions<P>) {
    this.claimBatch = Math.ceil(options.concurrency / MAX_TRIPS_IN_FLIGHT);
  }

  /** A handler's outcome, to record at the next turn. */
  add(finish: Finish<P>): void {
    if (finish.kind === 'done') this.completions.push(finish);
    else if (finish.kind === 'failed') this.failures.push(finish);
    else {
      this.deferrals.push(finish);
      this.deferring ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.sendDeferrals());
      return;
    }
    this.schedule();
  }

  /**
   * Records the RateLimitedErrors seen since the last call: one defer call per scope, with
   * the longest delay asked (a hold only grows). A call that fails is tried again: the
   * leases stay valid meanwhile (if they expire, the tasks run again, using an attempt).
   */
  private async sendDeferrals(): Promise<void> {
    const batch = this.deferrals;
    this.deferrals = [];
    for (const scope of ['queue', 'group'] as const) {
      const deferrals = batch.filter((d) => d.scope === scope);
      if (!deferrals.length) continue;
      const delayMs = Math.max(...deferrals.map((d) => d.delayMs));
      const leases = deferrals.map(({ lease }) => ({ id: lease.task.id, token: lease.token }));
      try {
        const codes = await runScript(this.options.client, scripts.defer(this.options.keys, { scope, delayMs, leases }));
        deferrals.forEach(({ lease, error }, i) => {
          if (codes[i] === Status.LEASE_LOST) this.options.onLost(lease.task, this.options.lostError(lease.task.id));
          else this.options.onDeferred(lease.task, error);
        });
      } catch (error) {
        if (this.stopped) break; // given up: the leases expire and the tasks run again
        this.deferrals.push(...deferrals);
        this.options.report(error as Error);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    this.deferring = this.deferrals.length && !this.stopped ? this.sendDeferrals() : undefined;
    // Room may have opened for a claim (the worker was full).
    this.schedule();
  }

  schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.turn();
    });
  }

  /** Resolves once the round trips in flight are answered. */
  async settle(): Promise<void> {
    await Promise.all(this.trips);
  }

  /** Records every outcome still waiting, until `deadline` (epoch ms). */
  async flush(deadline: number): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    while (Date.now() < deadline && !this.stopped) {
      if (this.deferring) {
        await this.deferring;
        continue;
      }
      if (this.trips.size) {
        await Promise.all(this.trips);
        continue;
      }
      if (!this.completions.length && !this.failures.length) return;
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      await this.turn();
    }
  }

  /** For good: no turn, retry or schedule fire runs after this (a close that gave up on Redis included). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.scheduleTimer);
  }

  /**
   * Schedule slots are fired by the workers (schedule-fire creates a due slot's run, once,
   * whoever calls it). A claim says when the next slot is, and whether one is due now: then
   * the worker fires it and claims again. A timer fires it at its time too, so a worker whose
   * handlers are all busy (claiming nothing) still fires it on time; every heartbeat fires
   * what is due as well.
   */
  noteScheduleDue(dueInMs: number): void {
    clearTimeout(this.scheduleTimer);
    this.scheduleTimer = undefined;
    if (dueInMs < 0 || !this.claiming || this.stopped) return;
    const waitMs = Math.max(dueInMs === 0 ? 0 : dueInMs + 5, this.fireRetryAt - Date.now());
    if (waitMs <= 0) void this.fireSchedules();
    else this.scheduleTimer = setTimeout(() => void this.fireSchedules(), Math.min(waitMs, MAX_IDLE_WAIT_MS));
  }

  /** Fires the due schedule slots (one call at a time), then claims, so free slots take the runs. */
  private fireSchedules(): Promise<void> {
    clearTimeout(this.scheduleTimer);
    this.scheduleTimer = undefined;
    this.firing ??= (async () => {
      try {
        let reply: FireReply;
        // More than one call creates (a long outage's catch-up): on until none is due.
        do reply = await runScript(this.options.client, scheduleScripts.fireSchedules(this.options.keys));
        while (reply.scheduleDueInMs === 0 && this.claiming);
        if (reply.schedulesToRefill > 0) this.options.onSchedulesWaiting();
        this.noteScheduleDue(reply.scheduleDueInMs);
      } catch (error) {
        this.options.report(error as Error);
        this.fireRetryAt = Date.now() + 1_000; // not again at once: the next claim would ask
        this.noteScheduleDue(1_000);
      } finally {
        this.firing = undefined;
      }
      // Runs were created: claim for them (a pump sharing slots asks for its turn).
      if (this.options.shared) this.backlog = true;
      if (this.claiming && this.free > 0) this.schedule();
    })();
    return this.firing;
  }

  private get free(): number {
    const { shared } = this.options;
    return shared ? shared.free() : this.options.concurrency - this.options.runner.busy - this.claimsInFlight;
  }

  /** From now on, shares the worker's slots with other pumps (see PumpOptions.shared). */
  share(shared: SharedSlots): void {
    this.options.shared = shared;
    // Waiting with a claim (as the queue's only partition) holds slots the others want now.
    if (this.options.idle.blocked && this.claimsInFlight > 0) this.options.idle.interrupt(this.options.client, this.options.keys.wake);
  }

  /**
   * A pump sharing slots is always likely to find work (asking for its turn), waiting on
   * its marker, or awaiting a reply: the worker checks (every second) that none has fallen
   * out of all three, and if one has, makes it ask again.
   */
  nudge(): void {
    if (!this.options.shared || !this.claiming || this.backlog || this.options.idle.blocked || this.trips.size || this.retryTimer || this.firing) return;
    this.backlog = true;
    this.schedule();
  }

  /** Tasks asked for by claims on their way (a shared budget counts every pump's). */
  get inFlight(): number {
    return this.claimsInFlight;
  }

  /**
   * Likely to find work: its last claim was full, or its idle wait woke, and it is not
   * waiting to retry a failed call (a shared budget's slots go to these).
   */
  get hungry(): boolean {
    return this.backlog && !this.options.idle.blocked && !this.retryTimer;
  }

  private claimRequest(max: number): scripts.ClaimRequest {
    return { max, leaseMs: this.options.leaseMs };
  }

  private async turn(): Promise<void> {
    if (this.stopped) return;
    if (this.trips.size >= MAX_TRIPS_IN_FLIGHT) {
      this.again = true;
      return;
    }
    if (this.retryTimer) return; // recovering from an error: the timer pumps
    const completions = this.completions;
    const failures = this.failures;
    // Claims are split so the trips in flight share the work and overlap. While the idle
    // wait blocks, its own claim takes what is announced; but a completion that may release
    // its flow parent in this layout (a chain's next step, a fan-in's parent) claims with
    // it, so the parent starts one script call later, not two (the slots are the ones the
    // idle wait's claim does not hold).
    const blocked = this.options.idle.blocked;
    // (Not with durability: the claim would wait for the replicas' acknowledgement of the
    // completion, where the idle wait's claim does not.)
    const releasesHere =
      blocked && !this.options.shared && !this.options.durability && completions.some((c) => c.lease.task.parent?.queue === this.options.keys.queue);
    const want = this.claiming && (!blocked || releasesHere) ? Math.min(this.free, this.claimBatch) : 0;
    if (!completions.length && !failures.length && want <= 0) return;
    this.completions = [];
    this.failures = [];
    const claimed = Math.max(want, 0);
    this.claimsInFlight += claimed;
    const trip = this.send(completions, failures, claimed).then(({ complete, fail, claim }) => {
      this.claimsInFlight -= claimed;
      this.onRecorded(complete, completions);
      this.onRecorded(fail, failures);
      if (claim.status === 'fulfilled') {
        if (claim.value !== undefined) this.onClaim(claim.value, claimed);
      } else {
        // A claim whose reply was lost leaves its leases to expire: those tasks run again.
        this.options.report(claim.reason as Error);
        this.retryLater();
      }
      if (complete.status === 'fulfilled' && fail.status === 'fulfilled' && claim.status === 'fulfilled') this.retryDelayMs = 0;
    });
    this.trips.add(trip);
    // Slots still free: claim for them now, so the next batch is on its way while Redis
    // runs this one (without this, handlers finish before the reply and trips never overlap).
    if (claimed > 0 && this.backlog && this.free > 0) this.schedule();
    await trip;
    this.trips.delete(trip);
    if (this.again || this.completions.length || this.failures.length) {
      this.again = false;
      this.schedule();
    }
  }

  /**
   * One round trip: the usual case, tasks done and room for more, is one script call;
   * otherwise separate calls, written back to back. With durability, the finishes go in one
   * pipeline with a WAIT.
   */
  private async send(
    completions: Completion<P>[],
    failures: Failure<P>[],
    claimed: number,
  ): Promise<{
    complete: PromiseSettledResult<StatusCode[] | undefined>;
    fail: PromiseSettledResult<StatusCode[] | undefined>;
    claim: PromiseSettledResult<scripts.ClaimReply | undefined>;
  }> {
    const { client, keys, durability } = this.options;
    const claim = this.claimRequest(claimed);
    const finished = completions.map(({ lease, json }) => ({ id: lease.task.id, token: lease.token, resultJson: json }));
    const attempts = failures.map(({ lease, json, retryDelayMs }) => ({ id: lease.task.id, token: lease.token, errorJson: json, retryDelayMs }));
    const both = completions.length > 0 && claimed > 0;
    const completeCall: ScriptCall<unknown> | undefined = both
      ? scripts.completeAndClaim(keys, { finished, claim })
      : completions.length
        ? scripts.complete(keys, { finished })
        : undefined;
    const failCall = failures.length ? scripts.fail(keys, { attempts }) : undefined;
    const claimCall = !both && claimed > 0 ? scripts.claim(keys, claim) : undefined;

    let completeSent: Promise<unknown> | undefined;
    let failSent: Promise<StatusCode[]> | undefined;
    const finishes = [completeCall, failCall].filter((call) => call !== undefined) as ScriptCall<unknown>[];
    if (durability && finishes.length) {
      const replicated = runReplicated(client, finishes, durability).then(({ replies, acknowledged }) => {
        const error = shortfall(durability, acknowledged);
        if (error) this.options.report(error); // recorded on the primary all the same
        return replies;
      });
      completeSent = completeCall && replicated.then((replies) => replies[0]);
      failSent = failCall && replicated.then((replies) => replies[completeCall ? 1 : 0] as StatusCode[]);
    } else {
      completeSent = completeCall && runScript(client, completeCall);
      failSent = failCall && runScript(client, failCall);
    }
    const claimSent = claimCall ? runScript(client, claimCall) : undefined;
    const [complete, fail, claimResult] = await Promise.allSettled([
      completeSent?.then((reply) => (both ? (reply as { statuses: StatusCode[] }).statuses : (reply as StatusCode[]))),
      failSent,
      both ? completeSent!.then((reply) => (reply as { claim: scripts.ClaimReply }).claim) : claimSent,
    ]);
    return { complete, fail, claim: claimResult };
  }

  private retryLater(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryDelayMs = Math.min(Math.max(this.retryDelayMs * 2, 100), 5_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule();
    }, this.retryDelayMs);
  }

  /** Emits the outcome of each recorded finish; puts back a batch whose call failed. */
  private onRecorded(settled: PromiseSettledResult<StatusCode[] | undefined>, batch: Finish<P>[]): void {
    if (!batch.length) return;
    if (settled.status === 'rejected') {
      // Nothing was lost: the finishes go back in line and are sent again; the leases stay
      // valid meanwhile (and if they expire, the task runs again, as promised). A batch
      // that was applied but whose reply was lost is refused harmlessly the second time.
      for (const finish of batch.reverse()) {
        if (finish.kind === 'done') this.completions.unshift(finish);
        else if (finish.kind === 'failed') this.failures.unshift(finish);
      }
      this.options.report(settled.reason as Error);
      this.retryLater();
      return;
    }
    const codes = settled.value ?? [];
    const final: { id: string; notice?: string }[] = [];
    batch.forEach((finish, i) => {
      const { parent, id } = finish.lease.task;
      if (parent && finish.kind === 'done' && codes[i] !== Status.LEASE_LOST) {
        const number = scripts.noticeNumber(codes[i]!);
        // As complete.lua writes it: `<parent queue>|<parent id>|<number>|c<result>`.
        final.push(number === undefined ? { id } : { id, notice: `${parent.queue}|${parent.id}|${number}|c${finish.json}` });
      } else if (parent && finish.kind === 'failed' && codes[i] === Status.DEAD_LETTERED) final.push({ id });
      const { task } = finish.lease;
      if (codes[i] === Status.LEASE_LOST) this.options.onLost(task, this.options.lostError(task.id));
      else if (finish.kind === 'done') this.options.onCompleted(task, finish.value);
      else if (finish.kind === 'failed') this.options.onFailed(task, finish.error, codes[i] === Status.OK);
    });
    if (final.length) this.options.onFlowFinal(final);
  }

  private onClaim({ dueInMs, paused, tasks, schedulesToRefill, scheduleDueInMs }: scripts.ClaimReply, asked: number): void {
    if (schedulesToRefill > 0) this.options.onSchedulesWaiting();
    for (const task of tasks) this.options.runner.start(task);
    this.backlog = tasks.length === asked;
    // Slots this claim held and did not fill are free again: for another partition's pump.
    if (this.options.shared && tasks.length < asked) this.options.shared.returned();
    this.noteScheduleDue(scheduleDueInMs);
    // A slot is due: its runs are created, then the worker claims again (fireSchedules).
    if (scheduleDueInMs === 0 && Date.now() >= this.fireRetryAt) return;
    const free = this.options.shared ? this.free : this.options.concurrency - this.options.runner.busy;
    // A claim made while the idle wait blocks (a completion releasing a flow parent here) may
    // learn of an earlier due time than the wait's (a rate window opening for the parent it
    // could not take) and has dropped the wake marker: end the wait now, so its own claim
    // runs and the next wait is armed with that due time, not left to its own timeout.
    if (this.options.idle.blocked && !this.options.shared && dueInMs >= 0 && Date.now() + idleWaitMs(dueInMs) < this.idleUntil) {
      this.options.idle.interrupt(this.options.client, this.options.keys.wake);
    }
    // A short claim emptied the queue: wait for the next announcement now, so the blocking
    // pop is already in Redis when work arrives (one hop to a handler, not two). A pump of
    // a shared budget waits whether slots are free or not: a slot that frees goes to a
    // partition with work.
    if (paused || (!this.backlog && (free > 0 || this.options.shared))) this.waitForWork(dueInMs);
    else if (free > 0) this.schedule();
  }

  /** The idle wait of a pump sharing its worker's slots: blocks without a claim, then claims if slots are free. */
  private waitShared(dueInMs: number): void {
    const waitMs = idleWaitMs(dueInMs);
    void this.options.idle.wait(this.options.keys.wake, waitMs, undefined).then((woke) => {
      if (!this.claiming) return;
      this.backlog = true; // announced (or due): claim when this partition's turn comes
      if (woke.status === 'rejected') {
        this.options.report(woke.reason as Error);
        this.retryLater();
        return;
      }
      // This pump took the marker but the worker has no slot at all: put it back, so another
      // worker blocked on it (with room) wakes instead of sleeping past the announced work.
      if (woke.value !== null && this.options.shared!.room() <= 0) {
        this.options.client.zadd(this.options.keys.wake, 0, WAKE_MEMBER).catch((error: Error) => this.options.report(error));
      }
      this.schedule();
    });
  }

  /** Blocks on the wake marker until work is announced or something falls due (IdleWait). */
  private waitForWork(dueInMs: number): void {
    if (this.options.idle.blocked || !this.claiming) return;
    if (dueInMs === 0) {
      // More was due than one claim reaps or promotes (a pump sharing slots asks for its turn).
      if (this.options.shared) this.backlog = true;
      this.schedule();
      return;
    }
    if (this.options.shared) {
      this.waitShared(dueInMs);
      return;
    }
    const want = Math.min(this.free, this.claimBatch);
    if (want <= 0) return;
    this.claimsInFlight += want;
    const waitMs = idleWaitMs(dueInMs);
    this.idleUntil = Date.now() + waitMs;
    const { keys } = this.options;
    void this.options.idle.wait(keys.wake, waitMs, scripts.claim(keys, this.claimRequest(want))).then((claimed) => {
      this.claimsInFlight -= want;
      if (claimed.status === 'fulfilled') {
        this.retryDelayMs = 0;
        this.onClaim(claimed.value, want);
      } else if (this.claiming) {
        // A claim whose reply was lost leaves its leases to expire: those tasks run again.
        this.options.report(claimed.reason as Error);
        this.retryLater();
      }
    });
  }
}
