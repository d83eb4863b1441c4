/**
 * What a result waiter believes: generated ids never repeat, even when Redis loses writes,
 * and an announcement on the events channel does not settle a waiter for a task its
 * process did not create until Redis confirms it.
 */
import { describe, expect, it } from 'vitest';
import { claimByHand, completeByHand } from './support/by-hand.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

describe('generated ids', () => {
  it('never repeat when the id counter is rolled back (a lossy failover, an old snapshot)', async () => {
    const s = scope();
    const queue = s.queue<number>('ids');
    const before = await queue.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ payload: i })));
    // What a replica that missed the last writes, or a restore, would hold.
    await s.client().hset(queue.keys.meta, 'seq', '0');
    const after = [...(await queue.enqueueMany([{ payload: 1 }, { payload: 2 }])), await queue.enqueue(3, { priority: 1 })];
    const highest = Math.max(...before.map((task) => Number(task.id)));
    for (const task of after) expect(Number(task.id)).toBeGreaterThan(highest);
    expect(new Set([...before, ...after].map((task) => task.id)).size).toBe(53);
  });

  it('start with the creation time in ms', async () => {
    const s = scope();
    const queue = s.queue('ids-time');
    const [seconds] = await s.client().time();
    const task = await queue.enqueue(1);
    expect(Math.floor(Number(task.id) / 1_000_000)).toBeGreaterThanOrEqual(Number(seconds) - 1);
  });
});

describe('announced results', () => {
  it('settle a waiter for a task another process created only once Redis says it is final', async () => {
    const s = scope();
    const producer = s.queue<number, unknown>('forged');
    const task = await producer.enqueue(1);
    const info = await producer.getTask(task.id);
    // Another process (another Queue object: no mark) waits for it.
    const waiter = s.queue<number, unknown>('forged');
    const result = waiter.result(task.id, { timeoutMs: 10_000 });
    await waiter.events.ready();
    await waiter.getTask(task.id); // the waiter's own read has been answered by now, in order
    // A forged announcement, with the right createdAt, while the task still waits. Messages
    // arrive in order: a waiter that believed it would settle with it before the real one.
    await s.client().publish(producer.keys.events, `completed|${task.id}|${info!.createdAt}\n{"charged":true}`);
    const [lease] = await claimByHand(producer);
    await completeByHand(producer, lease!, '{"charged":false}');
    expect(await result).toEqual({ charged: false });
  });

  it('settle a waiter at once for a task this process created', async () => {
    const s = scope();
    const queue = s.queue<number, number>('own');
    await queue.events.ready();
    const task = await queue.enqueue(1);
    const [lease] = await claimByHand(queue);
    await completeByHand(queue, lease!, '41');
    expect(await task.result({ timeoutMs: 5_000 })).toBe(41);
  });

  it('a completion deleted at once (retention 0) is still taken, for the task the waiter read', async () => {
    const s = scope();
    const producer = s.queue<number, number>('gone');
    const task = await producer.enqueue(1);
    const waiter = s.queue<number, number>('gone');
    const result = waiter.result(task.id, { timeoutMs: 10_000 });
    await waiter.events.ready();
    await waiter.getTask(task.id);
    const [lease] = await claimByHand(producer);
    await producer.configure({ retention: { completed: { count: 0 } } });
    await completeByHand(producer, lease!, '7');
    expect(await producer.getTask(task.id)).toBeNull();
    expect(await result).toBe(7);
  });
});
