/**
 * Schedules under a deployment's churn, on one real redis-server: five worker processes
 * (each declaring the schedule at start, as replicas do) and two gateways (each declaring it
 * over HTTP), a 1-second schedule and an every-second cron schedule for 20 s with workers
 * restarted and one SIGKILLed in between. Exactly one task per elapsed slot, ids checked, none missing; a run handled
 * twice only where a killed worker's lease expired.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useRedis, useScope, type TestScope } from './support/fixtures.js';
import { call, listeningIn } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);

const QUEUE = 'ticks';
const DEFINITION = { everyMs: 1_000, payload: { tick: true }, catchUp: 'all' as const };
/** A cron schedule too: its slots are computed ahead by whichever workers see them run low. */
const CRON = { cron: '* * * * * *', payload: { cron: true }, catchUp: 'all' as const };
const LEASE_MS = 2_000;

async function spawnWorker(s: TestScope, ran: string): Promise<ChildProcess> {
  const fixture = fileURLToPath(new URL('./fixtures/schedule-worker.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    env: { ...process.env, REDIS_URL: redis.url, PREFIX: s.prefix, QUEUE, SCHEDULES: JSON.stringify({ tick: DEFINITION, second: CRON }), RAN: ran, LEASE_MS: String(LEASE_MS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  s.add({ close: async () => void child.kill('SIGKILL') });
  const first = await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next();
  if (first.done || !String(first.value).startsWith('worker ')) throw new Error('the worker process did not start');
  return child;
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

describe('schedules across processes', () => {
  it('create exactly one task per slot through restarts and a SIGKILL, with two gateways declaring them too', { timeout: 120_000 }, async () => {
    const s = scope();
    const ran = `${s.prefix}:test:ran`;
    const gateways = await Promise.all([listeningIn(s, redis), listeningIn(s, redis)]);
    const declared = await Promise.all(gateways.map((gw) => call(gw, 'PUT', `/v1/queues/${QUEUE}/schedules/tick`, DEFINITION)));
    expect(declared.map((reply) => reply.status).sort()).toEqual([200, 201]);
    const first = declared.find((reply) => reply.status === 201)!.body.nextRunAt as number;

    const workers = await Promise.all(Array.from({ length: 5 }, () => spawnWorker(s, ran)));
    const queue = s.queue(QUEUE);
    // Five replicas declared both schedules again: the one the gateways declared did not change.
    expect((await queue.getSchedule('tick'))!.updatedAt).toBe(declared[0]!.body.updatedAt);
    expect((await queue.schedules()).map((schedule) => schedule.id).sort()).toEqual(['second', 'tick']);

    // The churn: a graceful restart, a SIGKILL (its replacement comes at once), another restart.
    await sleep(5_000);
    await stop(workers[0]!, 'SIGTERM');
    workers[0] = await spawnWorker(s, ran);
    await sleep(5_000);
    await stop(workers[1]!, 'SIGKILL');
    workers[1] = await spawnWorker(s, ran);
    await sleep(5_000);
    await stop(workers[2]!, 'SIGTERM');
    workers[2] = await spawnWorker(s, ran);
    await sleep(5_000);

    // Every slot from the first to the last that fell due has exactly one task, and every
    // task completes (a run the killed worker held runs again once its lease expires).
    const last = (await queue.getSchedule('tick'))!.lastSlotAt!;
    expect(last - first).toBeGreaterThanOrEqual(18_000);
    const expected = Array.from({ length: (last - first) / 1_000 + 1 }, (_, i) => `sched:tick:${first + i * 1_000}`);
    await expect
      .poll(async () => (await Promise.all(expected.map((id) => queue.getTask(id)))).filter((task) => task?.state !== 'completed').length, { timeout: 15_000 })
      .toBe(0);
    const created = (await queue.list('completed', { limit: 1_000 })).map((task) => task.id).filter((id) => id.startsWith('sched:tick:')).sort();
    expect(created.filter((id) => Number(id.split(':')[2]) <= last)).toEqual(expected);
    // The cron schedule: every second too, from its first slot to its last, one task each
    // (its slots were computed ahead by the workers as they ran low).
    await s.client().ltrim(queue.keys.scheduleSlots('second'), 0, 0); // low now: some worker computes more
    const cron = (await queue.getSchedule('second'))!;
    const seconds = (await queue.list('completed', { limit: 1_000 })).map((task) => task.id).filter((id) => id.startsWith('sched:second:')).map((id) => Number(id.split(':')[2])).sort((a, b) => a - b);
    expect(seconds.length).toBeGreaterThanOrEqual(15);
    expect(seconds.every((slot, i) => i === 0 || slot - seconds[i - 1]! === 1_000)).toBe(true);
    expect(seconds.at(-1)).toBeLessThanOrEqual(cron.lastSlotAt!);
    await expect.poll(async () => s.client().llen(queue.keys.scheduleSlots('second')), { timeout: 10_000 }).toBeGreaterThan(50);
    const handled = await s.client().lrange(ran, 0, -1);
    const twice = [...new Set(handled.filter((id, i) => handled.indexOf(id) !== i))];
    for (const id of twice) {
      // Handled twice only because the first handling's worker was killed before it recorded it.
      expect([id, (await queue.getTask(id))!.attempt]).toEqual([id, 2]);
    }
    expect(twice.length).toBeLessThanOrEqual(1);
    expect(new Set(handled).size).toBeGreaterThanOrEqual(expected.length);
    for (const worker of workers) await stop(worker, 'SIGTERM');
  });
});
