/**
 * The writes of a queue's settings, pause and groups' own settings, over every partition.
 *
 * Responsible for: a settings change (Queue.configure), written as given on an
 * unpartitioned queue and, on a partitioned one (or one it partitions), computed from the
 * settings as read and written to every partition with a version-checked last write; the
 * queue's pause and a group's own settings, written to every partition; and the turns these
 * take on a partitioned queue (the `configuring` hold: one change at a time, so a change
 * of the count, which copies the pause and group settings into the partitions it adds,
 * runs before or after a pause or group change, never across it). Validation is the
 * caller's (settings.ts); reading settings back is Queue's.
 */
import { randomUUID } from 'node:crypto';
import { SettingsConflictError } from '../errors.js';
import { orUnavailable } from '../redis/connection.js';
import { SETTINGS_FIELDS, type QueueKeys } from '../redis/keys.js';
import * as scripts from '../redis/queue-scripts.js';
import { runScript, type RedisClient } from '../redis/scripts.js';
import { layoutOf } from './partitions.js';
import type { Lane, QueueLanes } from './queue-lanes.js';

/** Tries of a settings change that meets other changes. */
const CONFIGURE_TRIES = 8;
/** How long a partitioned settings change may hold `configuring` (it expires if its process dies). */
const CONFIGURE_HOLD_MS = 10_000;
/** How long a partitioned settings change waits for its turn: past a dead holder's expiry. */
const CONFIGURE_WAIT_MS = CONFIGURE_HOLD_MS + 2_000;

export class SettingsWriter<P, R> {
  constructor(
    private readonly name: string,
    private readonly keys: QueueKeys,
    private readonly lanes: QueueLanes<P, R>,
    private readonly client: () => RedisClient,
  ) {}

  /** Writes a settings change (`fields`, settings.ts's; `partitions` when it sets the count). */
  async configure(partitions: number | undefined, fields: [string, string][]): Promise<void> {
    if (!(await this.configureUnpartitioned(partitions, fields))) await this.configurePartitioned(partitions, fields);
  }

  /** Every partition's pause (one call each: not atomic over partitions). */
  setPaused(paused: boolean): Promise<void> {
    return this.everyPartition((lanes) => Promise.all(lanes.map((lane) => runScript(this.client(), scripts.setPaused(lane.keys, paused)))));
  }

  /**
   * Writes a group's own fields in every partition: its tasks from before a change of the
   * partition count may be in another than its own (its pause and limits hold there too).
   */
  configureGroup(group: string, fields: [string, string][]): Promise<void> {
    // The first partition first: partitions added later copy it.
    return this.everyPartition(async (lanes) => {
      for (const lane of lanes.slice(0, 1)) await runScript(this.client(), scripts.configureGroup(lane.keys, group, fields));
      await Promise.all(lanes.slice(1).map((lane) => runScript(this.client(), scripts.configureGroup(lane.keys, group, fields))));
    });
  }

  /** The stored settings, their layout, and the partition count the change leaves. */
  private async readForChange(partitions: number | undefined) {
    const stored = await orUnavailable(this.client().hgetall(this.keys.settings));
    const layout = layoutOf(stored[SETTINGS_FIELDS.partitions], stored[SETTINGS_FIELDS.partitionLanes]);
    const unpartitioned = (partitions ?? layout.partitions) === 1 && layout.marks.length === 1;
    return { stored, layout, partitions: partitions ?? layout.partitions, unpartitioned };
  }

  /** Writes the change as given, on a queue that is unpartitioned; false if it was partitioned meanwhile (configure.lua refuses it, nothing written). */
  private async writeUnpartitioned(fields: [string, string][]): Promise<boolean> {
    return !fields.length || (await orUnavailable(runScript(this.client(), scripts.configure(this.keys, fields, { only: 'unpartitioned' })))) >= 0;
  }

  /**
   * A change of a queue that is and stays unpartitioned: written as given (concurrent ones
   * all hold, field by field), unless the queue was partitioned meanwhile. False when the
   * queue is, or becomes, partitioned.
   */
  private async configureUnpartitioned(partitions: number | undefined, fields: [string, string][]): Promise<boolean> {
    for (let attempt = 1; attempt <= CONFIGURE_TRIES; attempt++) {
      if (!(await this.readForChange(partitions)).unpartitioned) return false;
      if (await this.writeUnpartitioned(fields)) return true;
      // Partitioned meanwhile: read again.
    }
    throw new SettingsConflictError(this.name, `it met other changes on ${CONFIGURE_TRIES} tries`);
  }

  /**
   * A change of a partitioned queue (or one that partitions it): it holds `configuring`, is
   * computed from the settings as read and writes every partition; its last write holds
   * only if the settings' version is still the one read (a change made while the queue
   * looked unpartitioned may have come between), else it is read and computed again. The
   * last write releases the hold; a change that gives up releases it here (else it expires).
   */
  private async configurePartitioned(partitions: number | undefined, fields: [string, string][]): Promise<void> {
    let hold: string | undefined = randomUUID();
    try {
      await this.hold(hold);
      for (let attempt = 1; attempt <= CONFIGURE_TRIES; attempt++) {
        const read = await this.readForChange(partitions);
        // Back to one partition meanwhile: written as given (the hold is released below).
        if (read.unpartitioned) {
          if (await this.writeUnpartitioned(fields)) return;
          continue;
        }
        if (await orUnavailable(this.lanes.configure(read.stored, read.layout, read.partitions, fields, hold!))) {
          hold = undefined; // released by the last write
          return;
        }
      }
      throw new SettingsConflictError(this.name, `it met other changes on ${CONFIGURE_TRIES} tries`);
    } finally {
      if (hold) await this.release(hold);
    }
  }

  /**
   * Writes to every partition (`write` gets them, the first one first). A partitioned
   * queue's write holds `configuring` (see the header).
   */
  private async everyPartition(write: (lanes: Lane<P, R>[]) => Promise<unknown>): Promise<void> {
    const layout = await orUnavailable(this.lanes.layout());
    if (layout.marks.length === 1) {
      await orUnavailable(write(this.lanes.every(layout)));
      return;
    }
    const hold = randomUUID();
    try {
      await this.hold(hold);
      await orUnavailable(write(this.lanes.every(await orUnavailable(this.lanes.layout()))));
    } finally {
      await this.release(hold);
    }
  }

  /**
   * Takes `configuring` with `token`, waiting for another change to finish (or, if its
   * process died, its hold to expire): up to CONFIGURE_WAIT_MS, then SettingsConflictError.
   * Callers choose the token before and release it in a `finally`: a hold whose reply was
   * lost is released too.
   */
  private async hold(token: string): Promise<void> {
    const deadline = Date.now() + CONFIGURE_WAIT_MS;
    for (;;) {
      if ((await orUnavailable(this.client().set(this.keys.configuring, token, 'PX', CONFIGURE_HOLD_MS, 'NX'))) === 'OK') return;
      // A SET sent again after a reconnect finds its own first try's hold: that is ours.
      if ((await orUnavailable(this.client().get(this.keys.configuring))) === token) return;
      if (Date.now() >= deadline) throw new SettingsConflictError(this.name, `another change held its settings for ${CONFIGURE_WAIT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30));
    }
  }

  /** Releases a hold if it is still this change's (else it expired and is another's, or gone). */
  private async release(token: string): Promise<void> {
    await orUnavailable(runScript(this.client(), scripts.configure(this.keys, [], { release: token }))).catch(() => {}); // else it expires
  }
}
