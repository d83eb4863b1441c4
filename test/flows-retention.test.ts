/**
 * A flow parent's children record (deps:<id>) goes with the parent when retention trims it,
 * like its hash and its log: nothing of a trimmed task is left behind. A failed parent whose
 * failed child was trimmed is not retried into waiting for that child for good, nor re-opened
 * by a sibling's retry to wait for a cancelled child that was trimmed.
 */
import { describe, expect, it, vi } from 'vitest';
import { Flows, InvalidStateError } from '../src/index.js';
import { QueueKeys, TASK_FIELDS } from '../src/redis/keys.js';
import { next, useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

describe('retention of flow parents', () => {
  it('deletes the parent\'s children record with the parent', async () => {
    const s = scope();
    const flows = s.add(new Flows({ connection: redis.url, prefix: s.prefix }));
    await s.queue('p').configure({ retention: { completed: { count: 0 } } });
    s.worker('c', async () => 1);
    const parentWorker = s.worker('p', async () => 2);
    const completed = next(parentWorker, 'completed');
    const flow = await flows.add({ queue: 'p', children: [{ queue: 'c' }, { queue: 'c' }] });
    const keys = new QueueKeys(s.prefix, 'p');
    await completed; // the parent ran, after its children
    expect(await s.client().exists(keys.task(flow.id))).toBe(0); // trimmed at once
    expect(await s.client().exists(keys.deps(flow.id))).toBe(0);
  });

  it('refuses to retry a failed parent whose failed child retention has removed', async () => {
    const s = scope();
    const flows = s.add(new Flows({ connection: redis.url, prefix: s.prefix }));
    const childWorker = s.worker('c', async () => {
      throw new Error('down');
    });
    s.worker('p', async () => 'p');
    const flow = await flows.add({ queue: 'p', children: [{ queue: 'c', attempts: 1 }] });
    await expect(flow.result({ timeoutMs: 10_000 })).rejects.toThrow(/failed/);
    const child = flow.tree.children[0]!;
    // The child's age passes: the next heartbeat trims it.
    await s.queue('c').configure({ retention: { failed: { maxAgeMs: 0 } } });
    await (childWorker as unknown as { beat(): Promise<void> }).beat();
    expect(await s.queue('c').getTask(child.id)).toBeNull();
    const error = await s.queue('p').retry(flow.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidStateError);
    expect((error as Error).message).toMatch(new RegExp(`children "${child.id}" of queue "c" are gone`));
    expect((await s.queue('p').getTask(flow.id))?.state).toBe('failed'); // unchanged
  });

  /**
   * A `fail` parent of child 'a' (fails once) and siblings in `queues` (no workers: the
   * cascade cancels them), failed; then the sibling in queue 'b' is trimmed by retention.
   */
  async function failedWithGoneSibling(s: ReturnType<typeof scope>, queues: string[]) {
    const flows = s.add(new Flows({ connection: redis.url, prefix: s.prefix }));
    let runs = 0;
    s.worker('a', async () => {
      if (++runs === 1) throw new Error('down once');
      return 'a';
    });
    const flow = await flows.add({ queue: 'p', children: [{ queue: 'a', attempts: 1 }, ...queues.map((queue) => ({ queue }))] });
    await expect(flow.result({ timeoutMs: 10_000 })).rejects.toThrow(/failed/);
    const child = (queue: string) => flow.tree.children[1 + queues.indexOf(queue)]!;
    for (const queue of queues) {
      await vi.waitFor(async () => expect((await s.queue(queue).getTask(child(queue).id))?.state).toBe('cancelled'), { timeout: 5_000 });
    }
    // The cancelled child's age passes: a heartbeat of its queue trims it.
    await s.queue('b').configure({ retention: { failed: { maxAgeMs: 0 } } }); // cancelled tasks keep the failed retention
    await (s.worker('b', async () => 'b') as unknown as { beat(): Promise<void> }).beat();
    expect(await s.queue('b').getTask(child('b').id)).toBeNull();
    return { flow, first: flow.tree.children[0]!, child };
  }

  it("fails the parent again, naming the child, when a sibling's retry re-opens it for a cancelled child that is gone", async () => {
    const s = scope();
    const { flow, first, child } = await failedWithGoneSibling(s, ['b']);
    const second = child('b');
    // Retrying the child that failed re-opens the parent, which would wait for the gone one for good.
    await s.queue('a').retry(first.id);
    const parent = await s.queue('p').getTask(flow.id);
    expect(parent?.state).toBe('failed');
    expect(parent?.error?.message).toMatch(new RegExp(`child b/${second.id} failed: TaskGoneError: task "${second.id}" of queue "b" is gone`));
    expect(await s.client().hget(new QueueKeys(s.prefix, 'p').task(flow.id), TASK_FIELDS.failedBy)).toBe(`b|${second.id}`);
  });

  // The children's order decides which the re-open returns first: the gone one, or the live one.
  it.each([
    ['the gone child first', ['b', 'c']],
    ['the live child first', ['c', 'b']],
  ])("does not run a sibling re-opened with a gone child once the parent failed again (%s)", async (_, order) => {
    const s = scope();
    const { flow, first, child } = await failedWithGoneSibling(s, order);
    const live = child('c');

    await s.queue('a').retry(first.id);
    const parent = await s.queue('p').getTask(flow.id);
    expect(parent?.state).toBe('failed');
    expect(parent?.error?.message).toMatch(/TaskGoneError/);
    // Under 'fail' the parent's children still to run are cancelled, not put back in line.
    expect((await s.queue('c').getTask(live.id))?.state).toBe('cancelled');
    const keys = new QueueKeys(s.prefix, 'p');
    expect(await s.client().hget(keys.deps(flow.id), `c|${live.id}`)).toMatch(/:X$/);
    expect(await s.client().hexists(keys.task(flow.id), TASK_FIELDS.retrying)).toBe(0);
  });
});
