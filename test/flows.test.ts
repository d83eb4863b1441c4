/**
 * Flows against a real Redis: fan-out/fan-in, trees of several levels across queues, each
 * failure policy, chains passing results, the `dependencies` state in counts.
 */
import { describe, expect, it } from 'vitest';
import { Flows, TaskFailedError, type ChildOutcome } from '../src/index.js';
import { useRedis, useScope, type TestScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

function flows(s: TestScope): Flows {
  return s.add(new Flows({ connection: redis.url, prefix: s.prefix }));
}

describe('fan-out, fan-in', () => {
  it('runs a parent exactly once after its 1,000 children, with every result', async () => {
    const s = scope();
    const f = flows(s);
    const parentRuns: Record<string, ChildOutcome>[] = [];
    s.worker<number, number>('fetch', async (task) => task.payload * 2, { concurrency: 50 });
    s.worker('reports', async (task, context) => {
      const children = await context.children();
      parentRuns.push(children);
      return Object.values(children).reduce((sum, child) => sum + (child.result as number), 0);
    });
    const parts = Array.from({ length: 1000 }, (_, i) => i);
    const report = await f.add({ queue: 'reports', payload: { id: 7 }, children: parts.map((p) => ({ queue: 'fetch', payload: p })) });
    const counts = await s.queue('reports').counts();
    expect(counts.dependencies + counts.active + counts.waiting + counts.completed).toBe(1);
    await expect(report.result({ timeoutMs: 20_000 })).resolves.toBe(999 * 1000);
    expect(parentRuns).toHaveLength(1);
    const children = Object.values(parentRuns[0]!);
    expect(children).toHaveLength(1000);
    expect(children.every((c) => c.state === 'completed' && c.queue === 'fetch')).toBe(true);
    expect(report.tree.children.map((c) => `${c.queue}/${c.id}`).sort()).toEqual(Object.keys(parentRuns[0]!).sort());
  }, 30_000);

  it('counts a parent waiting for its children in the dependencies state', async () => {
    const s = scope();
    const f = flows(s);
    const flow = await f.add({ queue: 'parent', children: [{ queue: 'child', payload: 1 }, { queue: 'child', payload: 2 }] });
    expect(await s.queue('parent').counts()).toMatchObject({ dependencies: 1, waiting: 0 });
    expect(await s.queue('child').counts()).toMatchObject({ dependencies: 0, waiting: 2 });
    const parent = await s.queue('parent').getTask(flow.id);
    expect(parent?.state).toBe('dependencies');
    expect((await s.queue('parent').list('dependencies')).map((t) => t.id)).toEqual([flow.id]);
    const tree = await f.get('parent', flow.id);
    expect(tree?.state).toBe('dependencies');
    expect(tree?.children.map((c) => c.state)).toEqual(['waiting', 'waiting']);
  });

  it('runs a tree of three levels across queues, each parent after its children', async () => {
    const s = scope();
    const f = flows(s);
    const order: string[] = [];
    const handler = async (task: { queue: string; payload: unknown }, context: { children(): Promise<Record<string, ChildOutcome>> }) => {
      const children = Object.values(await context.children()).map((c) => c.result as string).sort();
      order.push(String(task.payload));
      return children.length ? `${String(task.payload)}(${children.join(',')})` : String(task.payload);
    };
    for (const queue of ['a', 'b', 'c']) s.worker(queue, handler);
    const flow = await f.add({
      queue: 'a',
      payload: 'root',
      children: [
        { queue: 'b', payload: 'x', children: [{ queue: 'c', payload: 'x1' }, { queue: 'a', payload: 'x2' }] },
        { queue: 'c', payload: 'y', children: [{ queue: 'b', payload: 'y1' }] },
      ],
    });
    await expect(flow.result({ timeoutMs: 10_000 })).resolves.toBe('root(x(x1,x2),y(y1))');
    expect(order.indexOf('root')).toBe(5);
    expect(order.indexOf('x')).toBeGreaterThan(Math.max(order.indexOf('x1'), order.indexOf('x2')));
    expect(order.indexOf('y')).toBeGreaterThan(order.indexOf('y1'));
    const tree = await f.get('a', flow.id);
    expect(tree?.state).toBe('completed');
    expect(tree?.children.flatMap((c) => c.children).every((c) => c.state === 'completed')).toBe(true);
  });
});

describe('failure policies', () => {
  const failing = (s: TestScope) =>
    s.worker<string, string>('kids', async (task) => {
      if (task.payload === 'bad') throw new Error('broken part');
      return task.payload;
    });

  it("'fail': a child that fails for good fails the parent, which never runs, and cancels its remaining children", async () => {
    const s = scope();
    const f = flows(s);
    let parentRan = false;
    failing(s);
    s.worker('top', async () => {
      parentRan = true;
    });
    const flow = await f.add({
      queue: 'top',
      children: [{ queue: 'kids', payload: 'bad', attempts: 1 }, { queue: 'later', payload: 'never' }],
    });
    const error = await flow.result({ timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskFailedError);
    expect((error as TaskFailedError).error.name).toBe('ChildFailedError');
    expect((error as TaskFailedError).message).toMatch(/child kids\/\d+ failed: Error: broken part/);
    expect(parentRan).toBe(false);
    const later = flow.tree.children.find((c) => c.queue === 'later')!;
    expect((await s.queue('later').getTask(later.id))?.state).toBe('cancelled');
  });

  it("'ignore': the failed child is left out of the parent's view", async () => {
    const s = scope();
    const f = flows(s);
    failing(s);
    s.worker('top', async (_task, context) => Object.values(await context.children()).map((c) => c.result));
    const flow = await f.add({
      queue: 'top',
      onChildFailure: 'ignore',
      children: [{ queue: 'kids', payload: 'bad', attempts: 1 }, { queue: 'kids', payload: 'good' }],
    });
    await expect(flow.result({ timeoutMs: 10_000 })).resolves.toEqual(['good']);
  });

  it("'continue': the parent runs with the child's error in its view", async () => {
    const s = scope();
    const f = flows(s);
    failing(s);
    s.worker('top', async (_task, context) =>
      Object.values(await context.children())
        .map((c) => `${c.state}:${c.result ?? c.error?.message}`)
        .sort(),
    );
    const flow = await f.add({
      queue: 'top',
      onChildFailure: 'continue',
      children: [{ queue: 'kids', payload: 'bad', attempts: 1 }, { queue: 'kids', payload: 'good' }],
    });
    await expect(flow.result({ timeoutMs: 10_000 })).resolves.toEqual(['completed:good', 'failed:broken part']);
  });
});

describe('chains', () => {
  it('passes each step the previous result through a chain of 100 steps', async () => {
    const s = scope();
    const f = flows(s);
    const seen: unknown[] = [];
    s.worker<number, number>('step', async (task) => {
      if (task.previous !== undefined) seen.push(task.previous);
      return (task.previous === undefined ? task.payload : (task.previous as number)) + 1;
    });
    const steps = Array.from({ length: 100 }, (_, i) => (i === 0 ? { queue: 'step', payload: 0 } : { queue: 'step' }));
    const chain = await f.chain<number>(steps);
    expect(chain.steps).toHaveLength(100);
    await expect(chain.result({ timeoutMs: 20_000 })).resolves.toBe(100);
    expect(seen).toEqual(Array.from({ length: 99 }, (_, i) => i + 1));
  }, 30_000);

  it('stops at a failed step, naming it, and runs none after it', async () => {
    const s = scope();
    const f = flows(s);
    const ran: string[] = [];
    s.worker<unknown, string>('resize', async () => (ran.push('resize'), 'small.png'));
    s.worker<unknown, string>('watermark', async () => {
      ran.push('watermark');
      throw new Error('no ink');
    });
    s.worker<unknown, string>('upload', async () => (ran.push('upload'), 'url'));
    const chain = await f.chain([{ queue: 'resize', payload: 'big.png' }, { queue: 'watermark', attempts: 1 }, { queue: 'upload' }]);
    const error = await chain.result({ timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskFailedError);
    expect((error as Error).message).toContain(`chain step 2 of 3 (watermark/${chain.steps![1]!.id}) failed: Error: no ink`);
    expect(ran).toEqual(['resize', 'watermark']);
  });
});

describe('isolated handlers', () => {
  it('see their children, parent and previous result in a thread too', async () => {
    const s = scope();
    const f = flows(s);
    const handler = new URL('./fixtures/isolated-handler.ts', import.meta.url);
    s.worker('iso', handler, { isolation: 'thread', concurrency: 2 });
    s.worker<number, number>('plain', async (task) => task.payload * 2);
    const flow = await f.add({ queue: 'iso', payload: { do: 'flow' }, children: [{ queue: 'plain', payload: 4 }] });
    const seen = (await flow.result({ timeoutMs: 20_000 })) as { children: Record<string, { result: number }>; parent?: unknown };
    expect(Object.values(seen.children).map((c) => c.result)).toEqual([8]);
    expect(seen.parent).toBeUndefined();
    const chain = await f.chain([{ queue: 'plain', payload: 5 }, { queue: 'iso' }]);
    const step = (await chain.result({ timeoutMs: 20_000 })) as { previous: number; children: Record<string, unknown> };
    expect(step.previous).toBe(10);
    expect(Object.keys(step.children)).toEqual([`plain/${chain.steps![0]!.id}`]);
  }, 30_000);
});

describe('bad input', () => {
  it('refuses invalid trees and chains with clear errors, writing nothing', async () => {
    const s = scope();
    const f = flows(s);
    await expect(f.add({ queue: 'bad name', children: [] })).rejects.toThrow(/invalid flow: root: invalid queue name "bad name"/);
    await expect(f.add({ queue: 'ok', children: [{ queue: 'ok', payload: () => 1 }] })).rejects.toThrow(/root\.children\[0\]/);
    await expect(f.add({ queue: 'ok', children: [{ queue: 'ok', payload: 1, extra: true } as never] })).rejects.toThrow(/extra/);
    await expect(f.add({ queue: 'ok', onChildFailure: 'explode' as never, children: [{ queue: 'ok' }] })).rejects.toThrow(/onChildFailure/);
    await expect(f.chain([{ queue: 'ok', payload: 1 }, { queue: 'ok', payload: 2 }])).rejects.toThrow(/step 2 has a payload, which would shadow the previous step's result/);
    await expect(f.chain([])).rejects.toThrow(/non-empty array/);
    const wide = { queue: 'ok', children: Array.from({ length: 100_000 }, () => ({ queue: 'ok' })) };
    await expect(f.add(wide)).rejects.toThrow(/more than 100,000 nodes/);
    expect(await s.client().keys(`${s.prefix}:*`)).toEqual([]);
  });
});

describe('errand/testing', () => {
  it('runUntilIdle runs a flow to its end: the parent waiting for its children is not idle', async () => {
    const s = scope();
    const f = flows(s);
    const { runUntilIdle } = await import('../src/testing/index.js');
    const flow = await f.add({ queue: 'sum', children: [1, 2, 3].map((n) => ({ queue: 'part', payload: n })) });
    const ran = await runUntilIdle({
      connection: redis.url,
      prefix: s.prefix,
      concurrency: 3,
      handlers: {
        part: async (task: { payload: number }) => task.payload,
        sum: async (_task: unknown, context: { children(): Promise<Record<string, ChildOutcome>> }) => Object.values(await context.children()).reduce((a, c) => a + Number(c.result), 0),
      },
    });
    expect(ran.find((t) => t.id === flow.id && t.queue === 'sum')).toMatchObject({ state: 'completed', result: 6 });
  });
});
