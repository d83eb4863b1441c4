// `errand enqueue`: one task from the argument, many from NDJSON on stdin or --file (all
// lines checked before any is sent), --wait for the result; bad input writes nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useCli, type CliResult } from './support/cli.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const cli = useCli(() => ({ url: redis.url, prefix: scope().prefix }));

const totals = (queue: string) => scope().totals(queue);
const dir = mkdtempSync(join(tmpdir(), 'errand-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function oneLine(result: CliResult): string {
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(result.stdout).toBe('');
  return lines[0]!;
}

/** Asserts that nothing was written for the queue: no task, no counter. */
async function expectUntouched(name: string): Promise<void> {
  const queue = scope().queue(name);
  expect(await totals(queue.name)).toEqual({ enqueued: 0, completed: 0, failed: 0 });
  expect(await queue.counts()).toMatchObject({ waiting: 0, delayed: 0 });
}

describe('one task from the argument', () => {
  it('enqueues the payload and prints the id', async () => {
    const result = await cli.run(['enqueue', 'emails', '{"to":"ada@example.com"}']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const id = result.stdout.trim();
    expect(await scope().queue('emails').getTask(id)).toMatchObject({ state: 'waiting', payload: { to: 'ada@example.com' } });
  });

  it('applies task options, and prints JSON with --json', async () => {
    const args = ['enqueue', 'emails', '"hello"', '--json', '--id', 'job-1', '--priority', '5', '--attempts', '2', '--delay', '600000'];
    const first = await cli.run(args);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ queue: 'emails', id: 'job-1', created: true });
    expect(await scope().queue('emails').getTask('job-1')).toMatchObject({ state: 'delayed', payload: 'hello', priority: 5, maxAttempts: 2 });
    const again = await cli.run(args);
    expect(JSON.parse(again.stdout)).toEqual({ queue: 'emails', id: 'job-1', created: false });
  });

  it('waits for the result with --wait', async () => {
    scope().worker<{ n: number }, number>('double', async (task) => task.payload.n * 2);
    const plain = await cli.run(['enqueue', 'double', '{"n":21}', '--wait']);
    expect(plain).toMatchObject({ code: 0, stdout: '42\n', stderr: '' });
    const json = await cli.run(['enqueue', 'double', '{"n":4}', '--wait', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ queue: 'double', created: true, state: 'completed', result: 8 });
  });

  it('exits 1 with the error when the awaited task fails', async () => {
    scope().worker('broken', async () => {
      throw new Error('no such mailbox');
    });
    const result = await cli.run(['enqueue', 'broken', '{}', '--wait', '--attempts', '1']);
    expect(result.code).toBe(1);
    expect(oneLine(result)).toMatch(/^errand: task "\d+" failed: Error: no such mailbox$/);
  });

  it('exits 1 when --wait-timeout passes first, leaving the task queued', async () => {
    const result = await cli.run(['enqueue', 'idle', '1', '--wait', '--wait-timeout', '100']);
    expect(result.code).toBe(1);
    const id = /task "(\d+)"/.exec(result.stderr)![1];
    expect(oneLine(result)).toBe(
      `errand: task "${id}" did not finish within 100 ms (--wait-timeout); it is still queued or running: see it with errand inspect idle ${id}, or wait longer with a larger --wait-timeout`,
    );
    expect(await scope().queue('idle').counts()).toMatchObject({ waiting: 1 });
  });

  it('says, when --wait has waited a few seconds, that no worker listens on the queue', async () => {
    const waiting = cli.start(['enqueue', 'nobody', '1', '--wait']);
    await waiting.waitFor(() => waiting.stderr.includes('no worker is listening'), 'the notice');
    expect(waiting.stderr).toMatch(/^errand: warning: task "\d+" is still waiting after 3 s: no worker is listening on queue "nobody" \(start one: errand worker <handlers module>\); still waiting, Ctrl-C to stop\n$/);
    // A worker that starts now still answers the wait.
    scope().worker('nobody', async () => 'done at last');
    const result = await waiting.exited;
    expect(result).toMatchObject({ code: 0, stdout: '"done at last"\n' });
  });

  it('rejects a payload that is not JSON (exit 2), naming the fix', async () => {
    const result = await cli.run(['enqueue', 'emails', '{to: ada}']);
    expect(result.code).toBe(2);
    expect(oneLine(result)).toMatch(/^errand: the payload is not valid JSON \(.+\): quote it for the shell, e\.g\. '\{"to":"ada@example\.com"\}'/);
    await expectUntouched('emails');
  });
});

describe('many tasks from NDJSON', () => {
  it('reads stdin, skipping blank lines', async () => {
    const result = await cli.run(['enqueue', 'lines'], { input: '{"n":1}\n\n{"n":2}\r\n"three"\n' });
    expect(result).toMatchObject({ code: 0, stdout: 'enqueued 3 tasks to "lines" (3 new, 0 existing)\n' });
    const waiting = await scope().queue('lines').list('waiting');
    expect(waiting.map((task) => task.payload)).toEqual([{ n: 1 }, { n: 2 }, 'three']);
  });

  it('enqueues a file of 10,000 lines in batches, with the same options for each', async () => {
    const file = join(dir, 'tasks.ndjson');
    writeFileSync(file, Array.from({ length: 10_000 }, (_, i) => JSON.stringify({ n: i })).join('\n') + '\n');
    const result = await cli.run(['enqueue', 'bulk', '--file', file, '--batch', '750', '--priority', '3', '--json']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const summary = JSON.parse(result.stdout) as { count: number; created: number; ids: string[] };
    expect(summary).toMatchObject({ queue: 'bulk', count: 10_000, created: 10_000 });
    expect(new Set(summary.ids).size).toBe(10_000);
    const queue = scope().queue('bulk');
    expect(await queue.counts()).toMatchObject({ waiting: 10_000 });
    expect(await totals(queue.name)).toMatchObject({ enqueued: 10_000 });
    const [first] = await queue.list('waiting', { limit: 1 });
    expect(first).toMatchObject({ id: summary.ids[0], payload: { n: 0 }, priority: 3 });
  });

  it('reports the first bad line by number and sends nothing', async () => {
    const file = join(dir, 'bad.ndjson');
    const lines = Array.from({ length: 9_000 }, (_, i) => JSON.stringify({ n: i }));
    lines[7_341] = '{"n": 7341,}';
    writeFileSync(file, lines.join('\n'));
    const result = await cli.run(['enqueue', 'bulk', '--file', file]);
    expect(result.code).toBe(2);
    expect(oneLine(result)).toMatch(new RegExp(`^errand: ${file} line 7342: invalid JSON \\(.+\\): each line must hold one JSON document$`));
    await expectUntouched('bulk');
  });

  it('reports a line over the payload limit and sends nothing', async () => {
    const input = `1\n${JSON.stringify('x'.repeat(1024 * 1024))}\n3\n`;
    const result = await cli.run(['enqueue', 'big'], { input });
    expect(result.code).toBe(2);
    expect(oneLine(result)).toMatch(/^errand: stdin line 2: payload is 1048578 bytes, over the limit of 1048576 bytes: /);
    await expectUntouched('big');
  });

  it('refuses options that only make sense for one task', async () => {
    const results = await Promise.all([
      cli.run(['enqueue', 'q', '--id', 'a'], { input: '1\n2\n' }),
      cli.run(['enqueue', 'q', '--wait'], { input: '1\n' }),
      cli.run(['enqueue', 'q', '1', '--file', join(dir, 'tasks.ndjson')]),
      cli.run(['enqueue', 'q', '--file', join(dir, 'missing.ndjson')]),
      cli.run(['enqueue', 'q'], { input: '\n\n' }),
    ]);
    expect(results.map((result) => [result.code, oneLine(result)])).toEqual([
      [2, 'errand: --id and --dedupe-key apply to one task: give its payload as an argument'],
      [2, 'errand: --wait works with one task: give its payload as an argument'],
      [2, 'errand: give the payload as an argument or --file, not both'],
      [2, expect.stringMatching(/^errand: cannot read --file ".*missing\.ndjson": ENOENT/)],
      [2, 'errand: no tasks: stdin holds no JSON lines'],
    ]);
    await expectUntouched('q');
  });
});
