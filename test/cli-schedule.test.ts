// `errand schedule add|list|pause|resume|run|rm`: each checked against what the engine then
// holds; an unchanged add changes nothing, and bad definitions are refused naming the
// problem (as usage errors, exit 2), writing nothing.
import { describe, expect, it } from 'vitest';
import { useCli } from './support/cli.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const cli = useCli(() => ({ url: redis.url, prefix: scope().prefix }));

describe('errand schedule', () => {
  // Ten CLI processes one after another, each starting Node (1–3 s on a loaded machine).
  it('adds a schedule (an upsert), lists it, pauses, resumes, runs it now and removes it', { timeout: 60_000 }, async () => {
    const s = scope();
    const args = ['schedule', 'add', 'reports', 'nightly', '--cron', '0 3 * * *', '--tz', 'Europe/Berlin', '--payload', '{"kind":"daily"}', '--attempts', '5'];
    const added = await cli.run([...args, '--json']);
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ queue: 'reports', id: 'nightly', change: 'created', definition: { cron: '0 3 * * *', tz: 'Europe/Berlin', payload: { kind: 'daily' }, options: { attempts: 5 } } });
    const again = await cli.run(args);
    expect(again.stdout).toMatch(/^change +unchanged$/m);
    expect(again.stdout).toMatch(/^cadence +cron 0 3 \* \* \* \(Europe\/Berlin\)$/m);
    await cli.run(['schedule', 'add', 'reports', 'beat', '--every', '1h']);
    const listed = await cli.run(['schedule', 'list', 'reports']);
    expect(listed.stdout.split('\n')[0]).toMatch(/^ID +CADENCE +STATE +NEXT RUN +LAST TASK +RUNS$/);
    expect(listed.stdout).toMatch(/^nightly +cron 0 3 \* \* \* \(Europe\/Berlin\) +active /m);
    expect(listed.stdout).toMatch(/^beat +every 3600000 ms +active /m);
    expect((await cli.run(['schedule', 'pause', 'reports', 'beat'])).stdout).toMatch(/^state +paused$/m);
    expect((await s.queue('reports').getSchedule('beat'))?.paused).toBe(true);
    expect((await cli.run(['schedule', 'resume', 'reports', 'beat'])).stdout).toMatch(/^state +active$/m);
    const run = await cli.run(['schedule', 'run', 'reports', 'nightly']);
    expect(run.stdout.trim()).toMatch(/^sched:nightly:now:\d+$/);
    expect(await s.queue('reports').getTask(run.stdout.trim())).toMatchObject({ payload: { kind: 'daily' }, maxAttempts: 5 });
    expect((await cli.run(['schedule', 'rm', 'reports', 'beat'])).stdout).toBe('removed schedule "beat" of queue "reports"\n');
    const gone = await cli.run(['schedule', 'rm', 'reports', 'beat']);
    expect([gone.code, gone.stderr]).toEqual([1, expect.stringMatching(/schedule "beat" does not exist in queue "reports"/)]);
    expect((await s.queue('reports').schedules()).map((schedule) => schedule.id)).toEqual(['nightly']);
  });

  it('refuses bad definitions naming the problem, writing nothing', async () => {
    const s = scope();
    for (const [args, code, message] of [
      [['--cron', '0 25 * * *'], 2, /Invalid value for hour: 25/],
      [['--cron', '0 3 * * *', '--tz', 'Nowhere/Land'], 2, /unknown time zone "Nowhere\/Land"/],
      [['--every', '500ms'], 2, /everyMs: Too small/],
      [['--every', '1m', '--cron', '* * * * *'], 2, /not both/],
      [['--every', '1m', '--catch-up', 'some'], 2, /Use none, one or all/],
      [['--every', '1m', '--start-at', 'tomorrow'], 2, /ISO 8601/],
      [['--every', '1m', '--payload', '{bad'], 2, /--payload/],
    ] as const) {
      const result = await cli.run(['schedule', 'add', 'q', 's', ...args]);
      expect([args.join(' '), result.code, result.stderr]).toEqual([args.join(' '), code, expect.stringMatching(message)]);
    }
    expect((await s.client().keys(`${s.prefix}:*`))).toEqual([]);
  });
});
