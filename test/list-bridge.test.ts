import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ValidationError, type ListBridge, type Queue } from '../src/index.js';
import { Child } from './support/child.js';
import { next, useRedis, useScope, type TestScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const run = promisify(execFile);

async function bridge(s: TestScope, queue: Queue, listKey: string, batchSize?: number): Promise<ListBridge> {
  const started = await queue.adoptList(listKey, batchSize ? { batchSize } : {});
  started.on('error', (error) => s.errors.push(error));
  return s.add(started);
}

/** Resolves once the bridge has moved `count` items in all. */
function adopted(b: ListBridge, count: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (b.adopted >= count) {
        b.off('adopted', check);
        resolve();
      }
    };
    b.on('adopted', check);
    check();
  });
}

/** Payloads of every waiting task, read page by page through the public API. */
async function waitingPayloads(queue: Queue): Promise<unknown[]> {
  const payloads: unknown[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await queue.list('waiting', { offset, limit: 1000 });
    payloads.push(...page.map((task) => task.payload));
    if (page.length < 1000) return payloads;
  }
}

describe('the legacy list bridge', () => {
  it('turns LPUSHed items into tasks, oldest first, and workers finish them', async () => {
    const s = scope();
    const listKey = `${s.prefix}:task:prodcons:queue`;
    const client = s.client();
    await client.lpush(listKey, 'a', 'b', 'c'); // a is the oldest
    const queue = s.queue<string, string>('jobs');
    const b = await bridge(s, queue, listKey);
    await adopted(b, 3);
    expect(await client.llen(listKey)).toBe(0);
    expect(await queue.list('waiting')).toMatchObject([{ payload: 'a' }, { payload: 'b' }, { payload: 'c' }]);
    const handled: string[] = [];
    const worker = s.worker<string, string>('jobs', async (task) => {
      handled.push(task.payload);
      return task.payload.toUpperCase();
    });
    await new Promise<void>((resolve) => worker.on('completed', () => handled.length === 3 && resolve()));
    expect(handled).toEqual(['a', 'b', 'c']);
  });

  it('waits for new items without polling and takes what redis-cli LPUSHes', async () => {
    const s = scope();
    const listKey = `${s.prefix}:legacy`;
    const queue = s.queue<string>('jobs');
    const b = await bridge(s, queue, listKey);
    const first = next<[string[]]>(b, 'adopted');
    await run('redis-cli', ['-p', String(redis.server.port), 'LPUSH', listKey, '7']);
    const [ids] = await first;
    expect(ids).toHaveLength(1);
    expect(await queue.getTask(ids[0]!)).toMatchObject({ state: 'waiting', payload: '7', maxAttempts: 3 });
  });

  it('applies task options and leaves items in the list while the queue is full', async () => {
    const s = scope();
    const listKey = `${s.prefix}:legacy`;
    const client = s.client();
    await client.lpush(listKey, ...Array.from({ length: 8 }, (_, i) => `item-${i}`));
    const queue = s.queue<string>('jobs');
    await queue.configure({ maxWaiting: 5 });
    const b = s.add(await queue.adoptList(listKey, { attempts: 7, priority: 2 }));
    await adopted(b, 5);
    expect(await client.llen(listKey)).toBe(3);
    expect(await queue.counts()).toMatchObject({ waiting: 5 });
    const [task] = await queue.list('waiting', { limit: 1 });
    expect(task).toMatchObject({ payload: 'item-0', maxAttempts: 7, priority: 2 });
    s.worker('jobs', async () => 'ok');
    await adopted(b, 8); // room again: the rest follow
    expect(await client.llen(listKey)).toBe(0);
  });

  it('rejects bad input before anything reaches Redis', async () => {
    const s = scope();
    const client = s.client();
    await client.set(`${s.prefix}:not-a-list`, 'x');
    const queue = s.queue('jobs');
    await expect(queue.adoptList(`${s.prefix}:not-a-list`)).rejects.toThrow(/holds a string, not a list/);
    await expect(queue.adoptList('')).rejects.toThrow(ValidationError);
    await expect(queue.adoptList(queue.keys.waiting(0))).rejects.toThrow(/belongs to queue "jobs" itself/);
    await expect(queue.adoptList('legacy', { batchSize: 0 })).rejects.toThrow(/batchSize/);
    await expect(queue.adoptList('legacy', { delayMs: 5 } as never)).rejects.toThrow(/unknown option "delayMs"/);
    expect((await client.keys(`${s.prefix}:*`)).sort()).toEqual([`${s.prefix}:not-a-list`]);
  });
});

describe('a list bridge killed with SIGKILL', () => {
  it('loses nothing and duplicates nothing: every item is in the list or a task', async () => {
    const s = scope();
    const listKey = `${s.prefix}:task:prodcons:queue`;
    const client = s.client();
    const queue = s.queue<string>('jobs');
    const rounds = Array.from({ length: 10 }, (_, r) => Array.from({ length: 300 }, (_, i) => `v${r * 300 + i}`));
    const child = s.add(new Child('list-bridge.ts', [redis.url, s.prefix, 'jobs', listKey, '10']));
    await child.line((line) => line === 'ready');
    for (const round of rounds.slice(0, 5)) await client.lpush(listKey, ...round);
    await child.line((line) => line.startsWith('adopted ')); // it is moving items
    await child.kill(); // mid-way: half the items are not even pushed yet
    for (const round of rounds.slice(5)) await client.lpush(listKey, ...round);

    // One atomic read of both sides: each item is on exactly one of them.
    const replies = (await client.multi().llen(listKey).llen(queue.keys.waiting(0)).exec()) ?? [];
    const [inList, asTasks] = replies.map(([error, count]) => (error ? Number.NaN : Number(count))) as [number, number];
    expect(asTasks).toBeGreaterThan(0);
    expect(inList + asTasks).toBe(3_000);

    const rest = await bridge(s, queue, listKey, 500);
    await adopted(rest, inList);
    expect(await client.llen(listKey)).toBe(0);
    const payloads = (await waitingPayloads(queue)) as string[];
    expect(payloads).toHaveLength(3_000);
    expect(new Set(payloads)).toEqual(new Set(rounds.flat()));
  });
});
