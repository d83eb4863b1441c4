/**
 * Isolated handlers (the `isolation` option), in worker threads and in child processes,
 * against a real Redis: results, progress, logs and handler signals cross the boundary; a
 * CPU-bound handler is terminated at its timeout and its slot runs the next task; a
 * handler past its memory limit, or whose process is killed from outside, fails only its
 * attempt; close() releases the leases of handlers still running and ends their threads
 * or processes. Each test runs at concurrency 1, so "the next task ran" means the slot was
 * reused.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { HandlerCrashedError, Worker, ValidationError, type TaskInfo } from '../src/index.js';
import type { Step } from './fixtures/isolated-handler.js';
import { useRedis, useScope, type TestScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const HANDLER = new URL('./fixtures/isolated-handler.ts', import.meta.url);

/** Resolves with the task once it is final (the watch ends there). */
async function finalOf(s: TestScope, queue: string, id: string): Promise<TaskInfo> {
  let last: TaskInfo | undefined;
  for await (const task of s.queue(queue).watchTask(id)) last = task;
  return last!;
}

/** Resolves with the task's progress once it has some. */
async function progressOf(s: TestScope, queue: string, id: string): Promise<unknown> {
  for await (const task of s.queue(queue).watchTask(id)) if (task.progress !== undefined) return task.progress;
  throw new Error(`task ${id} ended without progress`);
}

describe.each(['thread', 'process'] as const)('isolation: %s', (isolation) => {
  it('runs the module: results, progress, logs and handler signals cross the boundary', async () => {
    const s = scope();
    const queue = s.queue<Step>('module');
    const echo = await queue.enqueue({ do: 'echo', value: { n: [1, 'two'] } });
    const report = await queue.enqueue({ do: 'report' });
    const unrecoverable = await queue.enqueue({ do: 'unrecoverable' }, { attempts: 3 });
    s.worker('module', HANDLER, { isolation, concurrency: 2 });
    expect(await finalOf(s, 'module', echo.id)).toMatchObject({ state: 'completed', result: { value: { n: [1, 'two'] }, attempt: 1 } });
    expect(await finalOf(s, 'module', report.id)).toMatchObject({ state: 'completed', result: 'reported', progress: { done: true } });
    const [line] = (await queue.logs(report.id)).lines;
    expect(line!.message).toMatch(isolation === 'process' ? /^running in \d+$/ : `running in ${process.pid}`);
    if (isolation === 'process') expect(line!.message).not.toBe(`running in ${process.pid}`);
    // UnrecoverableError crosses as itself: the remaining attempts are skipped.
    expect(await finalOf(s, 'module', unrecoverable.id)).toMatchObject({ state: 'failed', attempt: 1, error: { name: 'UnrecoverableError', message: 'no point retrying' } });
  });

  it('terminates a CPU-bound handler at its timeout; the slot runs the next task', async () => {
    const s = scope();
    const queue = s.queue<Step>('spin');
    const spin = await queue.enqueue({ do: 'spin' }, { attempts: 1, timeoutMs: 500 });
    const after = await queue.enqueue({ do: 'echo', value: 'next' });
    const worker = s.worker('spin', HANDLER, { isolation, concurrency: 1 });
    expect(await finalOf(s, 'spin', spin.id)).toMatchObject({ state: 'failed', error: { name: 'HandlerTimeoutError' } });
    expect(await finalOf(s, 'spin', after.id)).toMatchObject({ state: 'completed', result: { value: 'next' } });
    expect(worker.running).toBe(0);
  });

  it('fails only the attempt of a handler past its memory limit', async () => {
    const s = scope();
    const queue = s.queue<Step>('memory');
    const hog = await queue.enqueue({ do: 'allocate' }, { attempts: 1 });
    const after = await queue.enqueue({ do: 'echo', value: 'alive' });
    s.worker('memory', HANDLER, { isolation, concurrency: 1, memoryLimitMb: 48 });
    const failed = await finalOf(s, 'memory', hog.id);
    expect(failed).toMatchObject({ state: 'failed', error: { name: 'HandlerCrashedError' } });
    expect(failed.error!.message).toMatch(/ran out of memory \(memoryLimitMb 48\)/);
    expect(await finalOf(s, 'memory', after.id)).toMatchObject({ state: 'completed', result: { value: 'alive' } });
  });

  it('fails only the attempt of a handler that ends its thread or process', async () => {
    const s = scope();
    const queue = s.queue<Step>('exits');
    const exits = await queue.enqueue({ do: 'exit' }, { attempts: 1 });
    const after = await queue.enqueue({ do: 'echo', value: 'alive' });
    s.worker('exits', HANDLER, { isolation, concurrency: 1 });
    const failed = await finalOf(s, 'exits', exits.id);
    expect(failed).toMatchObject({ state: 'failed', error: { name: 'HandlerCrashedError' } });
    expect(failed.error!.message).toMatch(/exited with code 3/);
    expect(await finalOf(s, 'exits', after.id)).toMatchObject({ state: 'completed' });
  });

  it('gives each of the tasks running at once a thread or process of its own, up to the concurrency', async () => {
    const s = scope();
    const queue = s.queue<Step>('held');
    const marker = join(mkdtempSync(join(tmpdir(), 'errand-')), 'release');
    const tasks = await queue.enqueueMany([1, 2, 3].map(() => ({ payload: { do: 'hold', marker } as Step })));
    s.worker('held', HANDLER, { isolation, concurrency: 3 });
    const where = await Promise.all(tasks.map((task) => progressOf(s, 'held', task.id)));
    const key = isolation === 'process' ? 'pid' : 'thread';
    expect(new Set(where.map((place) => (place as Record<string, number>)[key])).size).toBe(3);
    writeFileSync(marker, '');
    for (const task of tasks) expect(await finalOf(s, 'held', task.id)).toMatchObject({ state: 'completed', result: 'released' });
  });

  it('releases the leases of handlers still running at close, and ends them', async () => {
    const s = scope();
    const queue = s.queue<Step>('closing');
    const task = await queue.enqueue({ do: 'wait' });
    const worker = new Worker<Step>('closing', HANDLER, { connection: redis.url, prefix: s.prefix, isolation });
    const { pid } = (await progressOf(s, 'closing', task.id)) as { pid: number };
    await worker.close({ timeoutMs: 100 });
    // Back in line, its attempt not counted, as an in-process handler's would be.
    expect(await queue.getTask(task.id)).toMatchObject({ state: 'waiting', attempts: [] });
    expect(worker.running).toBe(0);
    if (isolation === 'process') expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });
});

describe('isolation: process', () => {
  it('fails only the attempt of a handler whose process is killed from outside', async () => {
    const s = scope();
    const queue = s.queue<Step>('killed');
    const victim = await queue.enqueue({ do: 'wait' }, { attempts: 2, backoff: { type: 'fixed', delayMs: 60_000 } });
    const after = await queue.enqueue({ do: 'echo', value: 'alive' });
    s.worker('killed', HANDLER, { isolation: 'process', concurrency: 1 });
    const { pid } = (await progressOf(s, 'killed', victim.id)) as { pid: number };
    process.kill(pid, 'SIGKILL');
    expect(await finalOf(s, 'killed', after.id)).toMatchObject({ state: 'completed', result: { value: 'alive' } });
    const killed = (await queue.getTask(victim.id))!;
    // One failed attempt, waiting for its retry: nothing else happened to the task.
    expect(killed).toMatchObject({ state: 'delayed', attempt: 1 });
    expect(killed.attempts).toHaveLength(1);
    expect(killed.attempts[0]!.error).toMatchObject({ name: 'HandlerCrashedError' });
    expect(killed.attempts[0]!.error.message).toMatch(/was killed by SIGKILL/);
  });

  it('aborts the signal of a handler whose lease was lost, then ends its process', async () => {
    const s = scope();
    const queue = s.queue<Step>('lost');
    const marker = join(mkdtempSync(join(tmpdir(), 'errand-')), 'aborted');
    const task = await queue.enqueue({ do: 'wait-for-abort', marker }, { attempts: 1 });
    // A short lease: the heartbeat that finds the lease gone comes soon.
    const worker = s.worker('lost', HANDLER, { isolation: 'process', concurrency: 1, leaseMs: 600 });
    const lost = new Promise((resolve) => worker.on('lost', resolve));
    const { pid } = (await progressOf(s, 'lost', task.id)) as { pid: number };
    await queue.cancel(task.id);
    await lost;
    // What follows happens in the handler's process, which the test cannot await.
    await vi.waitFor(() => expect(readFileSync(marker, 'utf8')).toBe('LeaseLostError'), { timeout: 10_000, interval: 20 });
    await vi.waitFor(() => expect(() => process.kill(pid, 0)).toThrow(/ESRCH/), { timeout: 10_000, interval: 20 });
    expect(await queue.getTask(task.id)).toMatchObject({ state: 'cancelled' });
  });
});

describe('isolation options', () => {
  it('says what is wrong with a handler that cannot run isolated', () => {
    const options = { connection: redis.url, autorun: false };
    expect(() => new Worker('q', async () => 1, { ...options, isolation: 'thread' })).toThrow(ValidationError);
    expect(() => new Worker('q', HANDLER, options)).toThrow(/add isolation: 'thread' or 'process'/);
    expect(() => new Worker('q', new URL('./fixtures/missing.js', import.meta.url), { ...options, isolation: 'process' })).toThrow(/not found/);
    expect(() => new Worker('q', async () => 1, { ...options, memoryLimitMb: 64 })).toThrow(/memoryLimitMb applies to isolated handlers only/);
    expect(HandlerCrashedError.name).toBe('HandlerCrashedError');
  });
});
