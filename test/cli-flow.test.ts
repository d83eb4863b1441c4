// The flow-control commands: configure and settings (a queue's, or one group's limits),
// groups, pause/resume --group, and enqueue --group; each checked against what the engine
// then holds, and bad values refused as usage errors before Redis is asked.
import { describe, expect, it } from 'vitest';
import { oneLine, useCli } from './support/cli.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const cli = useCli(() => ({ url: redis.url, prefix: scope().prefix }));

describe('errand configure and settings', () => {
  it('changes the settings from people-shaped values, and prints those in force', async () => {
    const s = scope();
    const changed = await cli.run(['configure', 'mail', '--rate-limit', '100/1s', '--concurrency', '20', '--max-waiting', '10000', '--keep-completed', '5000', '--failed-max-age', '7d', '--group-concurrency', '2', '--json']);
    expect(changed.code, changed.stderr).toBe(0);
    expect(JSON.parse(changed.stdout)).toMatchObject({ queue: 'mail', version: 1, rateLimit: { max: 100, perMs: 1_000 }, concurrency: 20, maxWaiting: 10_000, groups: { concurrency: 2 } });
    expect(await s.queue('mail').settings()).toMatchObject({ retention: { completed: { count: 5_000 }, failed: { maxAgeMs: 604_800_000 } } });
    const removed = await cli.run(['configure', 'mail', '--rate-limit', 'none']);
    expect(removed.stdout).toMatch(/^rate limit +none$/m);
    const shown = await cli.run(['settings', 'mail']);
    expect(shown.stdout).toMatch(/^concurrency +20$/m);
    expect(shown.stdout).toMatch(/^version +2$/m);
  });

  it("changes one group's own limits with --group", async () => {
    const s = scope();
    const result = await cli.run(['configure', 'mail', '--group', 'tenant-42', '--concurrency', '5', '--rate-limit', '10/1s']);
    expect(result.code, result.stderr).toBe(0);
    await s.queue('mail').enqueue(1, { group: 'tenant-42' });
    expect((await s.queue('mail').groups()).groups).toMatchObject([{ name: 'tenant-42', limits: { concurrency: 5, rateLimit: { max: 10, perMs: 1_000 } } }]);
  });

  it('refuses values it cannot read, and empty or mixed changes, as usage errors, writing nothing', async () => {
    const s = scope();
    for (const [args, message] of [
      [['--rate-limit', '100'], /Use <max>\/<window>/],
      [['--rate-limit', '100/soon'], /duration/],
      [['--concurrency', '0'], /from 1 up, or none/],
      [[], /nothing to change/],
      [['--group', 'g', '--max-waiting', '5'], /with --group/],
    ] as const) {
      const result = await cli.run(['configure', 'mail', ...args]);
      expect([args.join(' '), result.code]).toEqual([args.join(' '), 2]);
      expect(oneLine(result)).toMatch(message);
    }
    expect(await s.client().keys(`${s.prefix}:*`)).toEqual([]);
  });
});

describe('errand groups, enqueue --group, pause --group', () => {
  it('enqueues into groups, lists them by backlog, pauses and resumes one', async () => {
    const s = scope();
    for (const group of ['a', 'a', 'b']) expect((await cli.run(['enqueue', 'tenants', '1', '--group', group])).code).toBe(0);
    expect((await cli.run(['pause', 'tenants', '--group', 'b'])).stdout).toMatch(/paused group "b"/);
    const listed = await cli.run(['groups', 'tenants']);
    expect(listed.stdout.split('\n')[0]).toMatch(/^group +waiting +active +state +own limits$/);
    expect(listed.stdout).toMatch(/^a +2 +0 +ready +-$/m);
    expect(listed.stdout).toMatch(/^b +1 +0 +paused +-$/m);
    const json = JSON.parse((await cli.run(['groups', 'tenants', '--json'])).stdout);
    expect(json).toMatchObject({ queue: 'tenants', total: 2, groups: [{ name: 'a', waiting: 2 }, { name: 'b', paused: true }] });
    await cli.run(['resume', 'tenants', '--group', 'b']);
    expect((await s.queue('tenants').groups()).groups.find((g) => g.name === 'b')?.paused).toBe(false);
  });
});
