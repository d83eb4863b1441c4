// The operator commands: stats (table, --json, throughput with --watch), inspect, retry,
// cancel, remove and pause/resume, each checked in its table and --json forms against
// what the engine then reports.
import { describe, expect, it } from 'vitest';
import { TaskFailedError } from '../src/index.js';
import { useCli, type CliResult } from './support/cli.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const cli = useCli(() => ({ url: redis.url, prefix: scope().prefix }));

function oneLine(result: CliResult): string {
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(result.stdout).toBe('');
  return lines[0]!;
}

/**
 * alpha: 3 waiting, 1 delayed, 1 cancelled. beta: 1 completed, 2 failed, paused.
 * Returns the ids the tests act on.
 */
async function seed() {
  const s = scope();
  const alpha = s.queue<string>('alpha');
  const waiting = await alpha.enqueueMany([{ payload: 'a1' }, { payload: 'a2' }, { payload: 'a3' }]);
  const delayed = await alpha.enqueue('later', { delayMs: 600_000 });
  const cancelled = await alpha.enqueue('never');
  await alpha.cancel(cancelled.id);

  const beta = s.queue<string, string>('beta');
  const worker = s.worker<string, string>('beta', async (task) => {
    if (task.payload.startsWith('bad')) throw new Error(`cannot handle ${task.payload}`);
    return task.payload.toUpperCase();
  });
  const ok = await beta.enqueue('ok');
  const bad = await beta.enqueue('bad-1', { attempts: 1 });
  const bad2 = await beta.enqueue('bad-2', { attempts: 1 });
  await expect(ok.result({ timeoutMs: 10_000 })).resolves.toBe('OK');
  await expect(bad.result({ timeoutMs: 10_000 })).rejects.toBeInstanceOf(TaskFailedError);
  await expect(bad2.result({ timeoutMs: 10_000 })).rejects.toBeInstanceOf(TaskFailedError);
  await worker.close();
  await beta.pause();
  return { alpha, beta, waiting: waiting.map((task) => task.id), delayed: delayed.id, ok: ok.id, bad: bad.id, bad2: bad2.id };
}

describe('stats', () => {
  it('prints a table of every queue', async () => {
    await seed();
    const result = await cli.run(['stats', '--interval', '0']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const rows = result.stdout.trimEnd().split('\n').map((line) => line.split(/\s+/));
    expect(rows).toEqual([
      ['QUEUE', 'PAUSED', 'WAITING', 'DELAYED', 'ACTIVE', 'COMPLETED', 'FAILED', 'CANCELLED', 'WORKERS', 'IN/S', 'DONE/S', 'FAILED/S'],
      ['alpha', 'no', '3', '1', '0', '0', '0', '1', '0', '-', '-', '-'],
      ['beta', 'yes', '0', '0', '0', '1', '2', '0', '0', '-', '-', '-'],
    ]);
  });

  it('prints one queue as JSON, with totals and throughput over --interval', async () => {
    await seed();
    const result = await cli.run(['stats', 'beta', '--json', '--interval', '50']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual([
      {
        name: 'beta',
        waiting: 0,
        delayed: 0,
        active: 0,
        completed: 1,
        failed: 2,
        cancelled: 0,
        groups: 0,
        dependencies: 0,
        paused: true,
        workers: 0,
        totals: { enqueued: 3, completed: 1, failed: 2 },
        sampledAt: expect.any(Number),
        throughput: { enqueuedPerSec: 0, completedPerSec: 0, failedPerSec: 0 },
      },
    ]);
  });

  it('says when there are no queues yet', async () => {
    const [plain, json] = await Promise.all([cli.run(['stats', '-i', '0']), cli.run(['stats', '-i', '0', '--json'])]);
    expect(plain.stdout).toBe(`no queues under prefix "${scope().prefix}" yet (a queue appears once a task is enqueued or a worker starts)\n`);
    expect(json.stdout).toBe('[]\n');
  });

  it('refreshes with --watch, showing throughput between refreshes, until interrupted', async () => {
    const queue = scope().queue('busy');
    await queue.enqueue(0);
    const watch = cli.start(['stats', 'busy', '--watch', '--json', '--interval', '100']);
    const readings = () => watch.lines.map((line) => (JSON.parse(line) as { totals: { enqueued: number }; throughput: { enqueuedPerSec: number } | null }[])[0]!);
    await watch.waitFor(() => readings().length >= 1, 'the first reading');
    expect(readings()[0]).toMatchObject({ name: 'busy', waiting: 1, throughput: null });
    await queue.enqueueMany([1, 2, 3, 4, 5].map((payload) => ({ payload })));
    await watch.waitFor(() => readings().some((reading) => reading.totals.enqueued === 6), 'a reading after the enqueue');
    const jump = readings().find((reading) => reading.totals.enqueued === 6)!;
    expect(jump.throughput!.enqueuedPerSec).toBeGreaterThan(0);
    watch.kill('SIGINT');
    expect(await watch.exited).toMatchObject({ code: 0, stderr: '' });
  });
});

describe('inspect', () => {
  it('shows a failed task with its attempts, and the same as JSON', async () => {
    const { beta, bad } = await seed();
    const result = await cli.run(['inspect', 'beta', bad]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(new RegExp(`^id +${bad}$`, 'm'));
    expect(result.stdout).toMatch(/^state +failed$/m);
    expect(result.stdout).toMatch(/^attempt +1 of 1$/m);
    expect(result.stdout).toMatch(/^payload +"bad-1"$/m);
    expect(result.stdout).toMatch(/^error +Error: cannot handle bad-1$/m);
    expect(result.stdout).toMatch(/^failed attempts:\n {2}#1 {2}\d{4}-\d\d-\d\dT[\d:.]+Z {2}Error: cannot handle bad-1$/m);

    const json = await cli.run(['inspect', 'beta', bad, '--json']);
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(JSON.stringify(await beta.getTask(bad))));
  });

  it('shows a completed task with its result', async () => {
    const { ok } = await seed();
    const result = await cli.run(['inspect', 'beta', ok]);
    expect(result.stdout).toMatch(/^state +completed$/m);
    expect(result.stdout).toMatch(/^result +"OK"$/m);
  });

  it('exits 1 for a task that does not exist', async () => {
    await seed();
    const result = await cli.run(['inspect', 'beta', 'nope']);
    expect(result.code).toBe(1);
    expect(oneLine(result)).toBe('errand: task "nope" does not exist in queue "beta" (never created, removed, or past its retention)');
  });

  it('says when the queue itself is unknown (a typo, or another prefix), naming the known ones', async () => {
    await seed();
    const result = await cli.run(['inspect', 'nosuchqueue', '1']);
    expect(result.code).toBe(1);
    expect(oneLine(result)).toBe(
      `errand: queue "nosuchqueue" is unknown under prefix "${scope().prefix}": nothing was ever enqueued to it (known queues: alpha, beta); check the name, or --prefix / ERRAND_PREFIX`,
    );
    const json = await cli.run(['--json', 'retry', 'nosuchqueue', '1']);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'QUEUE_NOT_FOUND' } });
  });
});

describe('retry, cancel, remove', () => {
  it('retries one failed task, then every failed task', async () => {
    const { beta, bad, bad2 } = await seed();
    const one = await cli.run(['retry', 'beta', bad]);
    expect(one).toMatchObject({ code: 0, stdout: `retried task "${bad}" of queue "beta"\n` });
    expect((await beta.getTask(bad))!.state).toBe('waiting');
    const all = await cli.run(['retry', 'beta', '--all-failed', '--json']);
    expect(JSON.parse(all.stdout)).toEqual({ queue: 'beta', action: 'retry', ids: [bad2] });
    expect(await beta.counts()).toMatchObject({ waiting: 2, failed: 0 });
  });

  it('cancels a waiting task and refuses to cancel a completed one', async () => {
    const { alpha, beta, waiting, ok } = await seed();
    const result = await cli.run(['cancel', 'alpha', waiting[0]!, '--json']);
    expect(JSON.parse(result.stdout)).toEqual({ queue: 'alpha', action: 'cancel', ids: [waiting[0]] });
    expect((await alpha.getTask(waiting[0]!))!.state).toBe('cancelled');
    const refused = await cli.run(['cancel', 'beta', ok]);
    expect(refused.code).toBe(1);
    expect(oneLine(refused)).toBe(`errand: cannot cancel task "${ok}": it is completed, and only waiting, delayed, active or dependencies tasks can be`);
    expect((await beta.getTask(ok))!.state).toBe('completed');
  });

  it('removes one task, then every failed task', async () => {
    const { alpha, beta, delayed } = await seed();
    const one = await cli.run(['remove', 'alpha', delayed]);
    expect(one.stdout).toBe(`removed task "${delayed}" of queue "alpha"\n`);
    expect(await alpha.getTask(delayed)).toBeNull();
    const all = await cli.run(['remove', 'beta', '--all-failed']);
    expect(all.stdout).toBe('removed 2 failed tasks of queue "beta"\n');
    expect(await beta.counts()).toMatchObject({ failed: 0, completed: 1 });
  });

  it('wants an id or --all-failed, exactly one', async () => {
    const [neither, both] = await Promise.all([cli.run(['retry', 'beta']), cli.run(['remove', 'beta', '7', '--all-failed'])]);
    expect([neither.code, both.code]).toEqual([2, 2]);
    expect(oneLine(neither)).toBe('errand: give retry a task id or --all-failed (one of them): errand retry <queue> <id|--all-failed>');
    expect(oneLine(both)).toBe('errand: give remove a task id or --all-failed (one of them): errand remove <queue> <id|--all-failed>');
  });
});

describe('pause and resume', () => {
  it('pauses and resumes a queue, in words and as JSON', async () => {
    const queue = scope().queue('gate');
    const paused = await cli.run(['pause', 'gate']);
    expect(paused).toMatchObject({ code: 0, stdout: 'paused queue "gate": workers claim nothing until "errand resume gate"\n' });
    expect((await queue.counts()).paused).toBe(true);
    const resumed = await cli.run(['resume', 'gate', '--json']);
    expect(JSON.parse(resumed.stdout)).toEqual({ queue: 'gate', paused: false });
    expect((await queue.counts()).paused).toBe(false);
  });
});
