/**
 * Schedules against a real redis-server: one task per slot with ids derived from the slot,
 * an upsert that changes nothing when the definition is the same (concurrent redeploys),
 * a changed definition going on with its new cadence, the catch-up rules after downtime,
 * starting and ending (startAt, endAt, limit), pause, resume, run now and removal, cron
 * slots computed again when they run low or out, DST transitions through the cron
 * library, and bad definitions refused with nothing written.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ScheduleNotFoundError, ValidationError, type Queue } from '../src/index.js';
import { cronSlotsAfter, parseSchedule } from '../src/queue/schedules.js';
import { deferred, useRedis, useScope, type TestScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

async function redisNow(s: TestScope): Promise<number> {
  const [seconds, micros] = await s.client().time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** Ids of the tasks a schedule created, by slot (the runs' ids end with the slot's epoch ms). */
async function runsOf(queue: Queue, schedule: string): Promise<string[]> {
  const states = ['waiting', 'delayed', 'active', 'completed', 'failed', 'cancelled'] as const;
  const lists = await Promise.all(states.map((state) => queue.list(state, { limit: 1_000 })));
  return lists
    .flat()
    .map((task) => task.id)
    .filter((id) => id.startsWith(`sched:${schedule}:`))
    .sort();
}

/** A worker that records the ids it ran, and resolves `reached` once it ran `count`. */
function recorder(s: TestScope, queue: string, count: number) {
  const ran: string[] = [];
  const reached = deferred();
  const worker = s.worker(queue, async (task) => {
    ran.push(task.id);
    if (ran.length === count) reached.resolve();
    return task.payload;
  });
  return { ran, reached: reached.promise, worker };
}

describe('schedules', () => {
  it('create one task per slot, with ids derived from the slot, every everyMs on the epoch grid', async () => {
    const s = scope();
    const queue = s.queue('ticks');
    const info = await queue.schedule('heartbeat', { everyMs: 1_000, payload: { beat: true }, options: { attempts: 2, priority: 5 } });
    expect(info).toMatchObject({ id: 'heartbeat', change: 'created', runs: 0, paused: false, ended: false, lastTaskId: null });
    expect(info.nextRunAt! % 1_000).toBe(0);
    const { ran, reached } = recorder(s, 'ticks', 3);
    await reached;
    const slots = ran.map((id) => Number(id.split(':')[2]));
    expect(ran.every((id) => /^sched:heartbeat:\d+$/.test(id))).toBe(true);
    expect(slots[0]).toBe(info.nextRunAt);
    expect(slots.map((slot, i) => slot - slots[0]!)).toEqual([0, 1_000, 2_000].slice(0, slots.length));
    const task = await queue.getTask(ran[0]!);
    expect(task).toMatchObject({ payload: { beat: true }, maxAttempts: 2, priority: 5 });
    const [after] = await queue.schedules();
    expect(after!.runs).toBeGreaterThanOrEqual(3);
    expect(after!.lastTaskId).toMatch(/^sched:heartbeat:/);
    expect(after!.lastSlotAt).toBeGreaterThanOrEqual(slots[2]!);
  });

  it('are an upsert: ten concurrent calls with one definition leave one schedule and one next run', async () => {
    const s = scope();
    const queues = Array.from({ length: 10 }, () => s.queue('reports'));
    const definition = { cron: '0 3 * * *', tz: 'Europe/Berlin', payload: { kind: 'daily' }, options: { attempts: 5 }, catchUp: 'one' as const };
    const results = await Promise.all(queues.map((queue) => queue.schedule('nightly-report', definition)));
    expect(results.map((r) => r.change).sort()).toEqual(['created', ...Array(9).fill('unchanged')]);
    expect(new Set(results.map((r) => r.nextRunAt)).size).toBe(1);
    const again = await queues[0]!.schedule('nightly-report', { ...definition, options: { attempts: 5 } });
    expect(again).toMatchObject({ change: 'unchanged', nextRunAt: results[0]!.nextRunAt, updatedAt: results[0]!.updatedAt });
    const listed = await queues[0]!.schedules();
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      id: 'nightly-report',
      definition: { cron: '0 3 * * *', tz: 'Europe/Berlin', payload: { kind: 'daily' }, options: { attempts: 5 }, catchUp: 'one' },
    });
    // 03:00 in Berlin is 01:00 or 02:00 UTC.
    expect([1, 2]).toContain(new Date(listed[0]!.nextRunAt!).getUTCHours());
  });

  it('take a changed definition from its first slot after now on, keeping their runs', async () => {
    const s = scope();
    const queue = s.queue('cadence');
    await queue.schedule('beat', { everyMs: 1_000 });
    const { reached } = recorder(s, 'cadence', 1);
    await reached;
    const changed = await queue.schedule('beat', { everyMs: 3_000, payload: 'slower' });
    const now = await redisNow(s);
    expect(changed.change).toBe('changed');
    expect(changed.runs).toBeGreaterThanOrEqual(1);
    expect(changed.nextRunAt! % 3_000).toBe(0);
    expect(changed.nextRunAt! - now).toBeGreaterThan(0);
    expect(changed.nextRunAt! - now).toBeLessThanOrEqual(3_000);
    expect(changed.definition).toMatchObject({ everyMs: 3_000, payload: 'slower' });
  });

  it('follow their catch-up rule for the slots missed while no worker claimed', async () => {
    const s = scope();
    const queue = s.queue('downtime');
    const startAt = (await redisNow(s)) + 300;
    const every = { everyMs: 1_000, startAt, payload: null };
    await queue.schedule('all', { ...every, catchUp: 'all' });
    await queue.schedule('all-two', { ...every, catchUp: 'all', maxCatchUp: 2 });
    await queue.schedule('one', { ...every, catchUp: 'one' });
    await queue.schedule('none-late', { ...every, catchUp: 'none', missedAfterMs: 100 });
    await queue.schedule('none', { ...every, catchUp: 'none' });
    // The downtime: no worker claims while slots at +300, +1,300 and +2,300 ms fall due.
    await sleep(2_700);
    const before = await queue.schedules();
    expect(before.every((schedule) => schedule.runs === 0)).toBe(true);
    const { reached } = recorder(s, 'downtime', 7);
    await reached;
    const slots = (ids: string[]) => ids.map((id) => Number(id.split(':')[2]) - startAt);
    expect(slots(await runsOf(queue, 'all'))).toEqual([0, 1_000, 2_000]);
    expect(slots(await runsOf(queue, 'all-two'))).toEqual([1_000, 2_000]);
    expect(slots(await runsOf(queue, 'one'))).toEqual([2_000]);
    expect(slots(await runsOf(queue, 'none-late'))).toEqual([]);
    expect(slots(await runsOf(queue, 'none'))).toEqual([2_000]);
    const late = (await queue.getSchedule('none-late'))!;
    expect(late).toMatchObject({ runs: 0, lastSlotAt: startAt + 2_000, nextRunAt: startAt + 3_000 });
  });

  it('start at startAt, and end at endAt or after limit runs', async () => {
    const s = scope();
    const queue = s.queue('bounded');
    const now = await redisNow(s);
    const startAt = Math.ceil((now + 500) / 1_000) * 1_000 + 250;
    const limited = await queue.schedule('twice', { everyMs: 1_000, startAt, limit: 2 });
    expect(limited.nextRunAt).toBe(startAt);
    await queue.schedule('until', { everyMs: 1_000, startAt, endAt: startAt + 1_500 });
    const { reached } = recorder(s, 'bounded', 4);
    await reached;
    await expect.poll(async () => (await queue.getSchedule('twice'))?.ended).toBe(true);
    await expect.poll(async () => (await queue.getSchedule('until'))?.ended).toBe(true);
    expect(await runsOf(queue, 'twice')).toEqual([`sched:twice:${startAt}`, `sched:twice:${startAt + 1_000}`]);
    expect(await runsOf(queue, 'until')).toEqual([`sched:until:${startAt}`, `sched:until:${startAt + 1_000}`]);
    expect(await queue.getSchedule('twice')).toMatchObject({ runs: 2, nextRunAt: null, ended: true });
  });

  it('pause, resume from the next slot after now, run now, and are removed', async () => {
    const s = scope();
    const queue = s.queue('controlled');
    await queue.schedule('report', { everyMs: 60_000, payload: 'r' });
    const paused = await queue.pauseSchedule('report');
    expect(paused).toMatchObject({ paused: true, nextRunAt: null });
    const run = await queue.runSchedule('report');
    expect(run.id).toMatch(/^sched:report:now:\d+$/);
    s.worker('controlled', async (task) => `ran ${String(task.payload)}`);
    expect(await run.result({ timeoutMs: 10_000 })).toBe('ran r');
    const resumed = await queue.resumeSchedule('report');
    const now = await redisNow(s);
    expect(resumed).toMatchObject({ paused: false, runs: 1, lastTaskId: run.id });
    expect(resumed.nextRunAt! % 60_000).toBe(0);
    expect(resumed.nextRunAt! > now && resumed.nextRunAt! <= now + 60_000).toBe(true);
    expect(await queue.unschedule('report')).toBe(true);
    expect(await queue.unschedule('report')).toBe(false);
    expect(await queue.schedules()).toEqual([]);
    expect((await queue.getTask(run.id))?.state).toBe('completed');
    await expect(queue.runSchedule('report')).rejects.toBeInstanceOf(ScheduleNotFoundError);
    await expect(queue.pauseSchedule('report')).rejects.toThrow(/schedule "report" does not exist in queue "controlled"/);
  });

  it('compute cron slots again when they run low, and after an outage used them all up', async () => {
    const s = scope();
    const queue = s.queue('seconds');
    await queue.schedule('each-second', { cron: '* * * * * *', catchUp: 'one' });
    const keys = queue.keys;
    // Low: two slots left ahead; the next run asks for more and a worker computes them.
    await s.client().ltrim(keys.scheduleSlots('each-second'), 0, 1);
    const first = recorder(s, 'seconds', 1);
    await first.reached;
    await expect.poll(async () => s.client().llen(keys.scheduleSlots('each-second')), { timeout: 10_000 }).toBeGreaterThan(50);
    await first.worker.close();
    // Out: none ahead, and the slots pass while no worker claims; then the worker computes
    // the missed slots and the next ones, and the catch-up rule runs one for them.
    await s.client().del(keys.scheduleSlots('each-second'));
    const ranBefore = (await runsOf(queue, 'each-second')).length;
    await sleep(2_500);
    const second = recorder(s, 'seconds', 2);
    await second.reached;
    const runs = (await runsOf(queue, 'each-second')).map((id) => Number(id.split(':')[2]));
    const now = await redisNow(s);
    // One catch-up run for the missed seconds (the latest of them), then one per second.
    const afterOutage = runs.slice(ranBefore);
    expect(afterOutage.length).toBeGreaterThanOrEqual(2);
    expect(afterOutage[0]! % 1_000).toBe(0);
    expect(now - afterOutage[0]!).toBeLessThan(5_000);
    expect(afterOutage[1]! - afterOutage[0]!).toBe(1_000);
    expect(await s.client().llen(keys.scheduleSlots('each-second'))).toBeGreaterThan(50);
  });

  it('refuse bad definitions with the problem named, writing nothing', async () => {
    const s = scope();
    const queue = s.queue('strict');
    const cases: [string, unknown, RegExp][] = [
      ['a', { cron: '61 * * * *' }, /cron "61 \* \* \* \*": Invalid value for minute: 61/],
      ['b', { cron: '* 25 * * *' }, /Invalid value for hour: 25/],
      ['c', { cron: '* * * *' }, /exactly five, six, or seven space separated parts/],
      ['d', { cron: '0 3 * * *', tz: 'Mars/Olympus' }, /unknown time zone "Mars\/Olympus"/],
      ['e', { everyMs: 500 }, /everyMs: Too small: expected number to be >=1000/],
      ['f', { cron: '0 3 * * *', everyMs: 60_000 }, /give either cron or everyMs, not both/],
      ['g', { payload: 1 }, /give either cron or everyMs/],
      ['h', { everyMs: 1_000, tz: 'Europe/Berlin' }, /tz is for a cron expression/],
      ['i', { everyMs: 1_000, options: { delayMs: 5 } }, /unknown option "delayMs" in options/],
      ['j', { everyMs: 1_000, startAt: 2_000, endAt: 1_000 }, /endAt must be after startAt/],
      ['k', { everyMs: 1_000, colour: 'red' }, /unknown option "colour"/],
      ['l', { cron: '0 0 30 2 *' }, /never matches/],
      ['bad id!', { everyMs: 1_000 }, /invalid schedule id "bad id!"/],
    ];
    for (const [id, definition, message] of cases) {
      const refused = await queue.schedule(id, definition as never).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect([id, refused]).toEqual([id, expect.any(ValidationError)]);
      expect([id, (refused as Error).message]).toEqual([id, expect.stringMatching(message)]);
    }
    const keys = (await s.client().keys(`${s.prefix}*`));
    expect(keys).toEqual([]);
  });
});

describe('cron slots across DST (croner)', () => {
  const spec = (cron: string, tz: string) => parseSchedule('dst', { cron, tz }, 1_000).spec;
  const iso = (slots: string[]) => slots.map((slot) => new Date(Number(slot)).toISOString());

  it('run a daily time that falls in the spring-forward gap at the first valid time after it', () => {
    // Europe/Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST.
    expect(iso(cronSlotsAfter(spec('30 2 * * *', 'Europe/Berlin'), Date.parse('2026-03-27T12:00:00Z'), 3))).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
    // America/New_York, 2026-03-08: 02:00 EST becomes 03:00 EDT.
    expect(iso(cronSlotsAfter(spec('30 2 * * *', 'America/New_York'), Date.parse('2026-03-07T12:00:00Z'), 3))).toEqual([
      '2026-03-08T07:00:00.000Z',
      '2026-03-09T06:30:00.000Z',
      '2026-03-10T06:30:00.000Z',
    ]);
  });

  it('run a daily time in the repeated fall-back hour once, and hourly slots through both hours', () => {
    // Europe/Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    expect(iso(cronSlotsAfter(spec('30 2 * * *', 'Europe/Berlin'), Date.parse('2026-10-23T12:00:00Z'), 3))).toEqual([
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
    expect(iso(cronSlotsAfter(spec('0 * * * *', 'Europe/Berlin'), Date.parse('2026-10-24T23:30:00Z'), 4))).toEqual([
      '2026-10-25T00:00:00.000Z',
      '2026-10-25T01:00:00.000Z',
      '2026-10-25T02:00:00.000Z',
      '2026-10-25T03:00:00.000Z',
    ]);
    // America/New_York, 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:30 happens twice.
    expect(iso(cronSlotsAfter(spec('30 1 * * *', 'America/New_York'), Date.parse('2026-10-31T12:00:00Z'), 2))).toEqual([
      '2026-11-01T05:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
    expect(iso(cronSlotsAfter(spec('0 * * * *', 'America/New_York'), Date.parse('2026-11-01T04:30:00Z'), 3))).toEqual([
      '2026-11-01T05:00:00.000Z',
      '2026-11-01T06:00:00.000Z',
      '2026-11-01T07:00:00.000Z',
    ]);
  });

  it('stop at endAt with the end marker', () => {
    const bounded = parseSchedule('b', { cron: '0 * * * *', startAt: Date.parse('2026-01-01T00:30:00Z'), endAt: Date.parse('2026-01-01T03:00:00Z') }, 1_000).spec;
    expect(cronSlotsAfter(bounded, Date.parse('2025-12-31T00:00:00Z'), 10)).toEqual([
      String(Date.parse('2026-01-01T01:00:00Z')),
      String(Date.parse('2026-01-01T02:00:00Z')),
      String(Date.parse('2026-01-01T03:00:00Z')),
      'end',
    ]);
  });
});
