/**
 * Schedules at their edges, each a way a slot could get two runs, none, or a run it should
 * not: a cron schedule's catch-up after its slots ran out, an outage past endAt, a schedule
 * near its end, a slot computation overtaken by a firing, a resume overtaken by a definition
 * change, a caller's task id shaped like a run's, a refused definition, slots falling due
 * while every handler is busy, a definition changed while a slot is due, an endAt in the
 * past, and two runs asked for at once. Interleavings the public API cannot force are
 * replayed step by step with the script calls the library makes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ValidationError, type Queue } from '../src/index.js';
import * as scripts from '../src/redis/schedule-scripts.js';
import { runScript } from '../src/redis/scripts.js';
import { cronSlotsAfter, type ScheduleSpec } from '../src/queue/schedules.js';
import { deferred, useRedis, useScope, type TestScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

async function redisNow(s: TestScope): Promise<number> {
  const [seconds, micros] = await s.client().time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

async function runsOf(queue: Queue, schedule: string): Promise<number[]> {
  const states = ['waiting', 'delayed', 'active', 'completed', 'failed', 'cancelled'] as const;
  const lists = await Promise.all(states.map((state) => queue.list(state, { limit: 1_000 })));
  return lists
    .flat()
    .map((task) => task.id)
    .filter((id) => id.startsWith(`sched:${schedule}:`) && !id.includes(':now:'))
    .map((id) => Number(id.split(':')[2]))
    .sort((a, b) => a - b);
}

function recorder(s: TestScope, queue: string, count: number) {
  const ran: string[] = [];
  const reached = deferred();
  const worker = s.worker(queue, async (task) => {
    ran.push(task.id);
    if (ran.length === count) reached.resolve();
    return null;
  });
  return { ran, reached: reached.promise, worker };
}

describe('schedules at their edges', () => {
  it("catchUp 'all' after cron slots ran out creates runs only for slots of the schedule, none before it existed", async () => {
    const s = scope();
    const queue = s.queue('rebuild');
    const created = await queue.schedule('sec', { cron: '* * * * * *', catchUp: 'all', maxCatchUp: 50 });
    const first = created.nextRunAt!;
    // An outage longer than the slots listed ahead (100 s here, shortened: the list is emptied).
    await s.client().del(queue.keys.scheduleSlots('sec'));
    await sleep(2_300);
    const { reached } = recorder(s, 'rebuild', 3);
    await reached;
    const runs = await runsOf(queue, 'sec');
    // Docs: a run for each missed slot, the latest maxCatchUp. Slots before `first` never
    // belonged to the schedule (it did not exist yet).
    expect(runs.filter((slot) => slot < first)).toEqual([]);
  });

  it("catchUp 'one' on an every-schedule whose outage ran past endAt still runs the latest slot within endAt", async () => {
    const s = scope();
    const queue = s.queue('ending');
    const startAt = (await redisNow(s)) + 300;
    await queue.schedule('e', { everyMs: 1_000, startAt, endAt: startAt + 1_500, catchUp: 'one' });
    await sleep(2_700); // slots startAt and startAt + 1,000 pass with no worker
    const { reached } = recorder(s, 'ending', 1);
    await expect.poll(async () => (await queue.getSchedule('e'))?.ended, { timeout: 5_000 }).toBe(true);
    // 'one': one run for everything missed, i.e. for startAt + 1,000.
    expect(await runsOf(queue, 'e')).toEqual([startAt + 1_000]);
    await reached;
  });

  it('a cron schedule near its endAt does not keep every worker computing slots on every claim', async () => {
    const s = scope();
    const queue = s.queue('ends-soon');
    const now = await redisNow(s);
    await queue.schedule('soon', { cron: '* * * * * *', endAt: now + 10_000 });
    const { reached } = recorder(s, 'ends-soon', 2);
    await reached;
    // The end marker is listed: there is nothing to compute, so no refill mark should remain.
    await expect.poll(async () => s.client().scard(queue.keys.scheduleRefill), { timeout: 3_000 }).toBe(0);
  });

  it('a slot computation overtaken by a firing that found no slot ahead does not strand the schedule', async () => {
    const s = scope();
    const queue = s.queue('stranded');
    const keys = queue.keys;
    const client = s.client();
    const info = await queue.schedule('sec', { cron: '* * * * * *' });
    // Every listed slot was used: the schedule waits on `next` with nothing after it, and
    // asks for slots (as fire_schedule does when fewer than 20 are left).
    await client.del(keys.scheduleSlots('sec'));
    await client.sadd(keys.scheduleRefill, 'sec');
    // A worker reads it (computeScheduleSlots): no tail, score not inf -> 'append' after next.
    const hash = await client.hgetall(keys.schedule('sec'));
    const next = hash.next!;
    expect(await client.zscore(keys.schedules, 'sec')).toBe(next);
    const spec = JSON.parse(hash.def!) as ScheduleSpec;
    const computed = cronSlotsAfter(spec, Number(next));
    // Before its script runs, `next` falls due and a worker fires it: nothing listed ahead,
    // so the schedule goes to inf and waits for a rebuild.
    while ((await redisNow(s)) <= Number(next)) await sleep(50);
    await runScript(client, scripts.fireSchedules(keys));
    expect(await client.zscore(keys.schedules, 'sec')).toBe('inf');
    // The worker's append lands now.
    await runScript(client, scripts.addScheduleSlots(keys, { id: 'sec', digest: hash.digest!, mode: 'append', expected: next, slots: computed }));
    // Whatever the interleaving, the schedule must go on: a worker creates runs again.
    const { reached } = recorder(s, 'stranded', 2);
    await expect(Promise.race([reached.then(() => 'ran'), sleep(4_000).then(() => 'stuck')])).resolves.toBe('ran');
    expect(info.id).toBe('sec');
  });

  it("a resume overtaken by a definition change does not list the old definition's slots", async () => {
    const s = scope();
    const queue = s.queue('resume-race');
    const keys = queue.keys;
    await queue.schedule('r', { cron: '0 0 1 1 *' }); // once a year
    await queue.pauseSchedule('r');
    // resumeSchedule reads the definition and computes its slots ...
    const oldDigest = (await s.client().hget(keys.schedule('r'), 'digest'))!;
    const old = (await queue.getSchedule('r'))!.definition;
    const oldSlots = cronSlotsAfter(old, await redisNow(s));
    // ... a deploy changes the definition meanwhile ...
    await queue.schedule('r', { cron: '* * * * * *' });
    // ... and the resume's script, run with the slots of the old one, is refused: nothing changes.
    const stale = await runScript(s.client(), scripts.pauseSchedule(keys, { id: 'r', paused: false, digest: oldDigest, slots: oldSlots }));
    expect(stale.status).toBe(3); // INVALID_STATE
    expect((await queue.getSchedule('r'))!.paused).toBe(true);
    // The library's resume computes them again from what it reads.
    const after = await queue.resumeSchedule('r');
    expect(after.definition.cron).toBe('* * * * * *');
    expect(after.nextRunAt! - (await redisNow(s))).toBeLessThanOrEqual(1_000);
    // Resuming one that is not paused changes nothing.
    expect((await queue.resumeSchedule('r')).nextRunAt).toBe(after.nextRunAt);
  });

  it("an enqueue cannot take a schedule's run id (the slot would get no run)", async () => {
    const s = scope();
    const queue = s.queue('squat');
    const info = await queue.schedule('beat', { everyMs: 60_000 });
    const refused = await queue.enqueue({ not: 'the schedule payload' }, { id: `sched:beat:${info.nextRunAt}` }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ValidationError);
  });

  it('a refused schedule() writes nothing, not even the queue name into the registry', async () => {
    const s = scope();
    const queue = s.queue('typo-queue');
    await expect(queue.schedule('x', { cron: '0 25 * * *' })).rejects.toBeInstanceOf(ValidationError);
    expect(await s.client().keys(`${s.prefix}*`)).toEqual([]);
  });

  it("slots that fall due while the queue's only worker is busy (alive, claiming nothing) are not treated as missed", async () => {
    const s = scope();
    const queue = s.queue('busy');
    const startAt = (await redisNow(s)) + 1_000;
    const seen: string[] = [];
    const worker = s.worker('busy', async (task) => {
      seen.push(task.id);
      if (task.payload === 'long') await sleep(3_500);
      return null;
    }, { concurrency: 1, leaseMs: 1_500 }); // a heartbeat every 500 ms: it sees the schedule declared meanwhile
    const long = await queue.enqueue('long');
    await expect.poll(() => seen.includes(long.id)).toBe(true);
    await queue.schedule('tick', { everyMs: 1_000, startAt, catchUp: 'one' });
    await long.result({ timeoutMs: 10_000 });
    await expect.poll(async () => (await runsOf(queue, 'tick')).length, { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
    // Slots startAt .. startAt + 2,000 fell due while the worker ran the long task: each is
    // on time as far as the deployment goes (a worker runs), so each should get its run.
    const runs = await runsOf(queue, 'tick');
    expect(runs.slice(0, 3)).toEqual([startAt, startAt + 1_000, startAt + 2_000]);
    await worker.close();
  });

  it('keep a due slot that has not run yet when the definition changes (the deploy that changed it)', async () => {
    const s = scope();
    const queue = s.queue('redeploy');
    const startAt = (await redisNow(s)) + 300;
    await queue.schedule('report', { everyMs: 60_000, startAt, payload: 'old' });
    await sleep(600); // no worker: the slot at startAt falls due and waits
    const changed = await queue.schedule('report', { everyMs: 60_000, startAt, payload: 'new' });
    expect(changed).toMatchObject({ change: 'changed', nextRunAt: startAt });
    const { reached } = recorder(s, 'redeploy', 1);
    await reached;
    expect(await runsOf(queue, 'report')).toEqual([startAt]);
    expect((await queue.getTask(`sched:report:${startAt}`))?.payload).toBe('new');
  });

  it('refuse an endAt in the past (say, seconds for ms), writing nothing', async () => {
    const s = scope();
    const queue = s.queue('ended');
    await expect(queue.schedule('late', { everyMs: 1_000, endAt: Math.floor(Date.now() / 1000) })).rejects.toThrow(/endAt \(.*\) is past/);
    expect(await s.client().keys(`${s.prefix}*`)).toEqual([]);
  });

  it('give two runs asked for at once two tasks', async () => {
    const s = scope();
    const queue = s.queue('twice');
    await queue.schedule('r', { everyMs: 3_600_000, payload: 1 });
    const runs = await Promise.all([queue.runSchedule('r'), queue.runSchedule('r'), queue.runSchedule('r')]);
    expect(new Set(runs.map((run) => run.id)).size).toBe(3);
    expect((await queue.getSchedule('r'))?.runs).toBe(3);
    expect((await queue.list('waiting')).length).toBe(3);
  });
});
