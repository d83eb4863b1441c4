/**
 * A queue's schedules in Redis: upsert, read, remove, pause, resume, run now, and the
 * computing of cron slots ahead that the scripts ask for (any worker does it when its
 * claims report schedules waiting for slots; the scripts accept the slots once). The
 * definitions and slots are schedules.ts's; the scripts' contracts schedule-scripts.ts's.
 * Used by Queue (every action) and Worker (computing slots).
 */
import { QueueFullError, ScheduleNotFoundError, ValidationError } from '../errors.js';
import { CRON_END, SCHEDULE_FIELDS as SF, type QueueKeys } from '../redis/keys.js';
import * as scripts from '../redis/schedule-scripts.js';
import { runScript, type RedisClient } from '../redis/scripts.js';
import { Status } from '../redis/status.js';
import {
  cronSlotsAfter,
  cronSlotsBefore,
  decodeSchedule,
  parseSchedule,
  scheduleFields,
  type ScheduleDefinition,
  type ScheduleInfo,
  type ScheduleSpec,
} from './schedules.js';

/** Schedules read per list call at most. */
const MAX_LISTED = 10_000;

export interface ScheduleChangeResult {
  schedule: ScheduleInfo;
  /** 'unchanged' when the same definition was stored already (nothing written). */
  change: scripts.ScheduleChange;
}

export class ScheduleBook {
  constructor(
    private readonly queue: string,
    private readonly keys: QueueKeys,
    private readonly client: () => RedisClient,
    private readonly maxPayloadBytes: number,
  ) {}

  /**
   * Creates or changes a schedule (an upsert: the same definition changes nothing).
   * `beforeWrite` runs once the definition is valid (a refused one writes nothing at all).
   */
  async upsert(id: string, definition: ScheduleDefinition, beforeWrite?: () => Promise<void>): Promise<ScheduleChangeResult> {
    const { spec, digest, payloadJson } = parseSchedule(id, definition, this.maxPayloadBytes);
    const now = await this.redisNow();
    if (spec.endAt !== undefined && spec.endAt <= now) {
      throw new ValidationError(`invalid schedule "${id}": endAt (${new Date(spec.endAt).toISOString()}) is past, so no slot would fall due (times are epoch ms)`);
    }
    await beforeWrite?.();
    let slots: string[] = [];
    if (spec.cron !== undefined) {
      // From after now; or from a due slot the old definition has not run yet (see schedule-upsert.lua).
      const [next, last, paused] = await this.client().hmget(this.keys.schedule(id), SF.next, SF.last, SF.paused);
      const from = next !== null && Number(next) <= now && paused !== '1' ? Math.max(Number(next) - 1, Number(last ?? -1)) : now;
      slots = cronSlotsAfter(spec, from);
    }
    const { change } = await runScript(
      this.client(),
      scripts.upsertSchedule(this.keys, { id, digest, definitionJson: JSON.stringify(spec), fields: scheduleFields(spec, payloadJson), slots }),
    );
    const schedule = await this.get(id);
    if (!schedule) throw new ScheduleNotFoundError(this.queue, id); // removed meanwhile
    return { schedule, change };
  }

  /** One schedule, or null. */
  async get(id: string): Promise<ScheduleInfo | null> {
    const hash = await this.client().hgetall(this.keys.schedule(id));
    return hash[SF.digest] ? decodeSchedule(id, hash) : null;
  }

  /** Every schedule of the queue, by next run (paused and ended ones last). */
  async list(): Promise<ScheduleInfo[]> {
    const ids = await this.client().zrange(this.keys.schedules, 0, MAX_LISTED - 1);
    if (!ids.length) return [];
    const pipeline = this.client().pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.schedule(id));
    const replies = (await pipeline.exec()) ?? [];
    return ids.flatMap((id, index) => {
      const [error, hash] = replies[index] ?? [];
      return !error && hash && (hash as Record<string, string>)[SF.digest] ? [decodeSchedule(id, hash as Record<string, string>)] : [];
    });
  }

  /** Deletes a schedule; its runs already created stay. Resolves whether it existed. */
  async remove(id: string): Promise<boolean> {
    return runScript(this.client(), scripts.removeSchedule(this.keys, id));
  }

  /** Pauses a schedule (no slot falls due) or resumes it from its first slot after now. */
  async setPaused(id: string, paused: boolean): Promise<ScheduleInfo> {
    // A resume computes a cron schedule's slots from the definition it read; if a change
    // overtakes it, the script refuses them and they are computed again.
    for (let attempt = 0; ; attempt++) {
      let request: Parameters<typeof scripts.pauseSchedule>[1] = { id, paused, slots: [] };
      if (!paused) {
        const hash = await this.client().hgetall(this.keys.schedule(id));
        if (!hash[SF.digest]) throw new ScheduleNotFoundError(this.queue, id);
        const spec = JSON.parse(hash[SF.def] ?? '{}') as ScheduleSpec;
        request = { id, paused, digest: hash[SF.digest], slots: spec.cron !== undefined ? cronSlotsAfter(spec, await this.redisNow()) : [] };
      }
      const { status } = await runScript(this.client(), scripts.pauseSchedule(this.keys, request));
      if (status === Status.INVALID_STATE && attempt < 5) continue;
      if (status !== Status.OK) throw new ScheduleNotFoundError(this.queue, id);
      const schedule = await this.get(id);
      if (!schedule) throw new ScheduleNotFoundError(this.queue, id);
      return schedule;
    }
  }

  /** Creates a run now, besides the slots; resolves with its task id. */
  async runNow(id: string): Promise<string> {
    const reply = await runScript(this.client(), scripts.runSchedule(this.keys, id));
    if (reply.status === Status.QUEUE_FULL) throw new QueueFullError(this.queue, reply.maxWaiting);
    if (reply.status !== Status.OK) throw new ScheduleNotFoundError(this.queue, id);
    return reply.taskId;
  }

  /** Computes the cron slots the scripts ask for (see computeScheduleSlots). */
  computeSlots(): Promise<number> {
    return computeScheduleSlots(this.client(), this.keys);
  }

  private redisNow(): Promise<number> {
    return redisNow(this.client());
  }
}

/** The Redis server's clock, in ms: slots are compared with it, never with this host's. */
async function redisNow(client: RedisClient): Promise<number> {
  const [seconds, micros] = await client.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/**
 * Computes cron slots for the schedules that wait for them (`srefill`): after the last one
 * listed, or, for a schedule with none ahead (an outage used them up), its missed slots (as
 * many as its catch-up rule may run) and the next ones. Any number of workers may do this
 * at once: the script adds each schedule's slots once. Resolves with how many got slots.
 */
export async function computeScheduleSlots(client: RedisClient, keys: QueueKeys): Promise<number> {
  const ids = await client.smembers(keys.scheduleRefill);
  let added = 0;
  for (const id of ids) {
    const [hash, tail, score, now] = await Promise.all([
      client.hgetall(keys.schedule(id)),
      client.lindex(keys.scheduleSlots(id), -1),
      client.zscore(keys.schedules, id),
      redisNow(client),
    ]);
    const digest = hash[SF.digest];
    const next = hash[SF.next];
    if (!digest || !next) {
      // Gone or ended meanwhile: the script only clears its mark.
      await runScript(client, scripts.addScheduleSlots(keys, { id, digest: digest ?? '', mode: 'append', expected: '', slots: [] }));
      continue;
    }
    const spec = JSON.parse(hash[SF.def] ?? '{}') as ScheduleSpec;
    let request: Parameters<typeof scripts.addScheduleSlots>[1];
    if (score === 'inf' && hash[SF.paused] !== '1') {
      // Missed slots start at its pending next slot: those before it ran, were skipped (a
      // pause, a changed definition) or came before the schedule existed.
      const after = Math.max(Number(hash[SF.last] ?? -1), Number(next) - 1);
      const missed = cronSlotsBefore(spec, now, after, spec.catchUp === 'all' ? spec.maxCatchUp : 1);
      request = { id, digest, mode: 'rebuild', expected: next, slots: [...missed, ...cronSlotsAfter(spec, now)] };
    } else {
      const from = tail ?? next;
      // Nothing after the end marker: the script only clears the mark.
      request = { id, digest, mode: 'append', expected: from, slots: from === CRON_END ? [] : cronSlotsAfter(spec, Number(from)) };
    }
    if (await runScript(client, scripts.addScheduleSlots(keys, request))) added++;
  }
  return added;
}
