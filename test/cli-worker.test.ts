// `errand worker <module>`: loads handlers from JavaScript or TypeScript, logs one JSON line
// per outcome when stdout is not a terminal, shuts down gracefully on the first signal
// with nothing lost, exits at once on the second, and rejects modules without handlers.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { oneLine, useCli, type CliProcess, type CliResult } from './support/cli.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const cli = useCli(() => ({ url: redis.url, prefix: scope().prefix }));

const totals = (queue: string) => scope().totals(queue);
const dir = mkdtempSync(join(tmpdir(), 'errand-cli-worker-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TS_HANDLERS = 'test/fixtures/cli-handlers.ts';
const JS_HANDLERS = 'test/fixtures/cli-handlers.mjs';

function count(worker: CliProcess, message: string): number {
  return worker.records.filter((record) => record.msg === message).length;
}

function started(worker: CliProcess): Promise<void> {
  return worker.waitFor(() => count(worker, 'worker started') === 1, 'the worker started');
}

describe('running handlers', () => {
  it('works through a 10,000-line file and stops cleanly on SIGTERM with nothing lost', async () => {
    const file = join(dir, 'numbers.ndjson');
    writeFileSync(file, Array.from({ length: 10_000 }, (_, n) => JSON.stringify({ n })).join('\n'));
    const enqueued = await cli.run(['enqueue', 'double', '--file', file]);
    expect(enqueued).toMatchObject({ code: 0, stdout: 'enqueued 10000 tasks to "double" (10000 new, 0 existing)\n' });

    const worker = cli.start(['worker', TS_HANDLERS, '--concurrency', '20']);
    await worker.waitFor(() => worker.stdout.split('"msg":"completed"').length > 500, '500 tasks completed');
    worker.kill('SIGTERM');
    const result = await worker.exited;
    expect(result).toMatchObject({ code: 0, signal: null, stderr: '' });

    const messages = worker.records.map((record) => record.msg);
    expect(messages[0]).toBe('worker started');
    // Tasks running at the signal finish (and are logged) after "closing", before "closed".
    expect(messages.filter((message) => message !== 'completed').slice(1)).toEqual([
      'closing: letting running tasks finish (send the signal again to exit at once)',
      'closed',
    ]);
    expect(messages.at(-1)).toBe('closed');
    const completedIds = worker.records.filter((record) => record.msg === 'completed').map((record) => record.task);
    expect(new Set(completedIds).size).toBe(completedIds.length);

    // Nothing lost: every task is either completed (each logged once) or still waiting.
    const queue = scope().queue<{ n: number }, number>('double');
    const [counts, lifetime] = await Promise.all([queue.counts(), totals('double')]);
    expect(counts).toMatchObject({ active: 0, delayed: 0, failed: 0 });
    expect(lifetime).toMatchObject({ enqueued: 10_000, completed: completedIds.length, failed: 0 });
    expect(lifetime.completed + counts.waiting).toBe(10_000);
    const [last] = await queue.list('completed', { limit: 1 });
    expect(last!.result).toBe(last!.payload.n * 2);
  }, 90_000); // three processes and 10,000 tasks on a shared two-core machine: a generous ceiling, not a margin

  it('loads a JavaScript module and logs failures with their error', async () => {
    const worker = cli.start(['worker', JS_HANDLERS]);
    await started(worker);
    const task = await scope().queue('upper').enqueue('quiet');
    await expect(task.result({ timeoutMs: 10_000 })).resolves.toBe('QUIET');
    worker.kill('SIGINT');
    expect((await worker.exited).code).toBe(0);

    const ts = cli.start(['worker', TS_HANDLERS]);
    await started(ts);
    const failing = await scope().queue('broken').enqueue(null, { attempts: 1 });
    await ts.waitFor(() => count(ts, 'failed for good') === 1, 'the failure was logged');
    ts.kill('SIGTERM');
    expect((await ts.exited).code).toBe(0);
    expect(ts.records.find((record) => record.msg === 'failed for good')).toMatchObject({
      level: 50,
      queue: 'broken',
      task: failing.id,
      attempt: 1,
      maxAttempts: 1,
      error: 'Error: broken on purpose',
    });
  });

  it('loads a TypeScript module outside any ESM package (compiled as CommonJS)', async () => {
    const file = join(dir, 'handlers.ts');
    writeFileSync(file, 'const greet = (name: string): string => `hello ${name}`;\nexport default { greet: async (task: { payload: string }) => greet(task.payload) };\n');
    const worker = cli.start(['worker', file]);
    await started(worker);
    const task = await scope().queue('greet').enqueue('ada');
    await expect(task.result({ timeoutMs: 10_000 })).resolves.toBe('hello ada');
    worker.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  });

  it('runs a TypeScript module through the bin launcher, on plain Node', async () => {
    const worker = cli.start(['worker', TS_HANDLERS], { viaBin: true });
    await started(worker);
    const task = await scope().queue<{ n: number }, number>('double').enqueue({ n: 8 });
    await expect(task.result({ timeoutMs: 10_000 })).resolves.toBe(16);
    worker.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  });

  it('exits after closing even when the handlers module keeps a handle open', async () => {
    const file = join(dir, 'pool.mjs');
    writeFileSync(file, 'const pool = setInterval(() => {}, 60_000); // like a database pool\nexport default { pooled: async () => "ok" };\n');
    const worker = cli.start(['worker', file]);
    await started(worker);
    worker.kill('SIGTERM');
    expect(await worker.exited).toMatchObject({ code: 0, signal: null });
    expect(worker.records.at(-1)).toMatchObject({ msg: 'closed' });
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('exits at once with %s twice, while a handler still runs (code %i)', async (signal, code) => {
    await scope().queue('stuck').enqueue('forever');
    const worker = cli.start(['worker', TS_HANDLERS], { env: { ERRAND_LOG_LEVEL: 'debug' } });
    await worker.waitFor(() => worker.records.some((record) => record.msg === 'started' && record.queue === 'stuck'), 'the stuck task started');
    worker.kill(signal);
    await worker.waitFor(() => count(worker, 'closing: letting running tasks finish (send the signal again to exit at once)') === 1, 'closing');
    worker.kill(signal);
    const result = await worker.exited;
    expect(result.code).toBe(code);
    expect(worker.records.at(-1)).toMatchObject({ level: 40, signal, msg: 'second signal: exiting now; running tasks come back when their leases expire' });
    expect(worker.records.find((record) => String(record.msg).startsWith('closing'))).toMatchObject({ running: 1 });
  });
});

describe('modules without handlers', () => {
  const module = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('names what is missing, in one line, with exit 2', async () => {
    const cases: [file: string, message: string][] = [
      [join(dir, 'nope.ts'), `handlers module "${join(dir, 'nope.ts')}" not found (looked for ${join(dir, 'nope.ts')}): give the path of a .js or .ts file`],
      [module('named.mjs', 'export const emails = async () => 1;\n'), 'has no default export: add export default { queueName: async (task) => result }'],
      [module('function.mjs', 'export default async () => 1;\n'), 'exports a function by default; it must export an object of handlers: export default { queueName: async (task) => result }'],
      [module('empty.mjs', 'export default {};\n'), 'exports no handlers: export default { queueName: async (task) => result }'],
      [module('name.mjs', "export default { 'two words': async () => 1 };\n"), ': "two words" is not a valid queue name (use 1-128 characters from A-Z a-z 0-9 . _ -)'],
      [module('value.ts', "export default { emails: 'send' };\n"), ': the handler for queue "emails" is a string, not a function: export default { queueName: async (task) => result }'],
    ];
    const results = await Promise.all(cases.map(([file]) => cli.run(['worker', file])));
    results.forEach((result, i) => {
      const [file, message] = cases[i]!;
      expect(result.code, result.stderr).toBe(2);
      expect(result.stdout).toBe('');
      expect(oneLine(result, { anyStdout: true })).toBe(message.startsWith('handlers module') ? `errand: ${message}` : `errand: handlers module ${file}${message.startsWith(':') ? '' : ' '}${message}`);
    });
  });

  it('reports a module that throws while loading (exit 1), with its stack only on --debug', async () => {
    const file = module('throws.mjs', "throw new Error('missing SMTP_HOST');\n");
    const plain = await cli.run(['worker', file]);
    expect(plain.code).toBe(1);
    expect(oneLine(plain, { anyStdout: true })).toBe(`errand: handlers module ${file} failed to load: missing SMTP_HOST (run with --debug for the stack trace)`);
    const debug = await cli.run(['worker', file, '--debug']);
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/Caused by: Error: missing SMTP_HOST\n\s+at /);
  });
});
