/**
 * Schedules over HTTP: created with PUT (201), unchanged or changed with the same call
 * (200, `change` says which), listed and read, refused with the library's message naming
 * the problem (nothing written), paused, resumed, run now, and removed; an unknown one is
 * 404 SCHEDULE_NOT_FOUND.
 */
import { describe, expect, it } from 'vitest';
import { useRedis, useScope } from './support/fixtures.js';
import { call, useGatewayIn } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);

describe('schedules over HTTP', () => {
  it('are created, kept when unchanged, changed, listed and read', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const definition = { cron: '0 3 * * *', tz: 'Europe/Berlin', payload: { kind: 'daily' }, options: { attempts: 5 }, catchUp: 'one' };
    const created = await call(gw, 'PUT', '/v1/queues/reports/schedules/nightly', definition);
    expect(created).toMatchObject({ status: 201, body: { id: 'nightly', change: 'created', paused: false, runs: 0, definition: { cron: '0 3 * * *', tz: 'Europe/Berlin' } } });
    const again = await call(gw, 'PUT', '/v1/queues/reports/schedules/nightly', definition);
    expect(again).toMatchObject({ status: 200, body: { change: 'unchanged', nextRunAt: created.body.nextRunAt } });
    const changed = await call(gw, 'PUT', '/v1/queues/reports/schedules/nightly', { ...definition, cron: '0 4 * * *' });
    expect(changed).toMatchObject({ status: 200, body: { change: 'changed', definition: { cron: '0 4 * * *' } } });
    await call(gw, 'PUT', '/v1/queues/reports/schedules/beat', { everyMs: 30_000, startAt: '2030-01-01T00:00:00Z' });
    const listed = await call(gw, 'GET', '/v1/queues/reports/schedules');
    expect(listed.status).toBe(200);
    expect(listed.body.schedules.map((schedule: { id: string }) => schedule.id)).toEqual(['nightly', 'beat']);
    expect(listed.body.schedules[1]).toMatchObject({ nextRunAt: Date.parse('2030-01-01T00:00:00Z'), definition: { everyMs: 30_000, startAt: Date.parse('2030-01-01T00:00:00Z') } });
    expect(await call(gw, 'GET', '/v1/queues/reports/schedules/beat')).toMatchObject({ status: 200, body: { id: 'beat', lastTaskId: null } });
    expect((await s.queue('reports').schedules()).map((schedule) => schedule.id)).toEqual(['nightly', 'beat']);
  });

  it('refuse a bad definition with 400 naming the problem, writing nothing', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const cases: [unknown, RegExp][] = [
      [{ cron: '0 3 * * 8' }, /cron "0 3 \* \* 8": Invalid value for dayOfWeek: 8/],
      [{ cron: '0 3 * * *', tz: 'Atlantis/Capital' }, /unknown time zone "Atlantis\/Capital"/],
      [{ everyMs: 10 }, /everyMs/],
      [{ cron: '* * * * *', everyMs: 60_000 }, /either cron or everyMs, not both/],
      [{ everyMs: 1_000, colour: 'red' }, /colour/],
    ];
    for (const [body, message] of cases) {
      const reply = await call(gw, 'PUT', '/v1/queues/q/schedules/s', body);
      expect([JSON.stringify(body), reply.status, reply.body.error.code]).toEqual([JSON.stringify(body), 400, 'INVALID_ARGUMENT']);
      expect([JSON.stringify(body), reply.body.error.message]).toEqual([JSON.stringify(body), expect.stringMatching(message)]);
    }
    expect((await s.client().keys(`${s.prefix}:*`))).toEqual([]);
  });

  it('pause, resume, run now and are removed; an unknown one is 404', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    await call(gw, 'PUT', '/v1/queues/jobs/schedules/sweep', { everyMs: 3_600_000, payload: 'sweep' });
    expect(await call(gw, 'POST', '/v1/queues/jobs/schedules/sweep/pause')).toMatchObject({ status: 200, body: { paused: true, nextRunAt: null } });
    const resumed = await call(gw, 'POST', '/v1/queues/jobs/schedules/sweep/resume');
    expect(resumed).toMatchObject({ status: 200, body: { paused: false } });
    expect(resumed.body.nextRunAt % 3_600_000).toBe(0);
    const run = await call(gw, 'POST', '/v1/queues/jobs/schedules/sweep/run');
    expect(run).toMatchObject({ status: 201, body: { id: expect.stringMatching(/^sched:sweep:now:\d+$/), created: true } });
    expect(await s.queue('jobs').getTask(run.body.id)).toMatchObject({ payload: 'sweep', state: 'waiting' });
    expect(await call(gw, 'DELETE', '/v1/queues/jobs/schedules/sweep')).toMatchObject({ status: 200, body: { id: 'sweep', removed: true } });
    for (const [method, path] of [
      ['DELETE', '/v1/queues/jobs/schedules/sweep'],
      ['GET', '/v1/queues/jobs/schedules/sweep'],
      ['POST', '/v1/queues/jobs/schedules/sweep/pause'],
      ['POST', '/v1/queues/jobs/schedules/sweep/run'],
    ] as const) {
      const reply = await call(gw, method, path);
      expect([path, reply.status, reply.body.error.code]).toEqual([path, 404, 'SCHEDULE_NOT_FOUND']);
    }
  });
});
