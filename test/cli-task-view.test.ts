// The CLI's faces of running work: `errand logs` (with --follow until the task is final),
// `errand inspect --watch` (a line per move or progress until final), and `errand worker
// --isolate` (handlers in threads or processes, a CPU-bound one ended at --timeout).
import { describe, expect, it } from 'vitest';
import { deferred, next, useRedis, useScope } from './support/fixtures.js';
import { oneLine, useCli } from './support/cli.js';

const redis = useRedis();
const scope = useScope(redis);
const cli = useCli(() => ({ url: redis.url, prefix: scope().prefix }));

describe('errand logs', () => {
  it("prints a task's lines with time and attempt, control characters escaped; --json one per line", async () => {
    const s = scope();
    const queue = s.queue('said');
    const task = await queue.enqueue(null);
    const worker = s.worker('said', async (_task, context) => {
      context.log('hello');
      context.log('\u001b[2Jcleared?\nsecond line');
    });
    await next(worker, 'completed');
    const shown = await cli.run(['logs', 'said', task.id]);
    expect(shown.code).toBe(0);
    const lines = shown.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z {2}#1 {2}hello$/);
    expect(lines[1]).toMatch(/#1 {2}\\u001b\[2Jcleared\?$/);
    expect(lines[2]).toMatch(/^ +second line$/);
    const json = await cli.run(['logs', 'said', task.id, '--json']);
    expect(json.stdout.trimEnd().split('\n').map((line) => JSON.parse(line).message)).toEqual(['hello', '\u001b[2Jcleared?\nsecond line']);
    expect(oneLine(await cli.run(['logs', 'said', '999']))).toBe('errand: task "999" does not exist in queue "said" (never created, removed, or past its retention)');
  });

  it('--follow prints lines as they are written and ends with the task', async () => {
    const s = scope();
    const queue = s.queue('live');
    const task = await queue.enqueue(null);
    const follower = cli.start(['logs', 'live', task.id, '--follow']);
    const go = deferred();
    s.worker('live', async (_task, context) => {
      context.log('first');
      await go.promise;
      context.log('second');
    });
    await follower.waitFor(() => follower.stdout.includes('first'), 'the first line');
    expect(follower.stdout).not.toContain('second');
    go.resolve();
    const result = await follower.exited;
    expect(result.code).toBe(0);
    expect(result.stdout.trimEnd().split('\n').map((line) => line.split('  ').at(-1))).toEqual(['first', 'second']);
  });
});

describe('errand inspect --watch', () => {
  it('prints the task, then a line per move and progress, until it is final', async () => {
    const s = scope();
    const queue = s.queue('watched');
    const task = await queue.enqueue(null);
    const watcher = cli.start(['inspect', 'watched', task.id, '--watch']);
    await watcher.waitFor(() => watcher.stdout.includes('state     waiting'), 'the task printed');
    const half = deferred();
    s.worker('watched', async (_task, context) => {
      context.progress(50);
      await half.promise;
      return 'done';
    });
    await watcher.waitFor(() => watcher.stdout.includes('50%'), 'the progress line');
    half.resolve();
    const result = await watcher.exited;
    expect(result.code).toBe(0);
    const changes = result.stdout.trimEnd().split('\n').filter((line) => /^\d{4}-/.test(line));
    expect(changes.at(-2)).toMatch(/active +attempt 1 of 3 {2}\[#{10}\.{10}\] {2}50%$/);
    expect(changes.at(-1)).toMatch(/completed +attempt 1 of 3 {2}\[#{10}\.{10}\] {2}50% {2}result "done"$/);
  });
});

describe('errand worker --isolate', () => {
  it.each(['thread', 'process'])('runs handlers in %s isolation and ends a CPU-bound one at --timeout', async (kind) => {
    const s = scope();
    const queue = s.queue('spin');
    const doubles = s.queue('double');
    const stuck = await queue.enqueue(null, { attempts: 1 });
    const tasks = await doubles.enqueueMany([1, 2, 3].map((n) => ({ payload: { n } })));
    const worker = cli.start(['worker', 'test/fixtures/cli-isolated.ts', '--isolate', kind, '--timeout', '500', '--concurrency', '2']);
    await worker.waitFor(
      () => worker.records.filter((record) => record.msg === 'completed').length === 3 && worker.records.some((record) => record.msg === 'failed for good'),
      'three completions and one timeout',
    );
    worker.kill('SIGTERM');
    expect(await worker.exited).toMatchObject({ code: 0 });
    expect(worker.records[0]).toMatchObject({ msg: 'worker started', isolation: kind });
    expect(worker.records.find((record) => record.msg === 'failed for good')).toMatchObject({ queue: 'spin', task: stuck.id, error: expect.stringMatching(/^HandlerTimeoutError/) });
    for (const task of tasks) expect(await doubles.getTask(task.id)).toMatchObject({ state: 'completed' });
  });

  it('refuses --memory-limit without --isolate', async () => {
    const result = await cli.run(['worker', 'test/fixtures/cli-isolated.ts', '--memory-limit', '64']);
    expect(result.code).toBe(2);
    expect(oneLine(result)).toMatch(/--memory-limit applies to isolated handlers/);
  });
});
