import { describe, expect, it } from 'vitest';
import { ClosedError, TaskNotFoundError } from '../src/index.js';
import { deferred, next, useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

/** Collects the states a watch yields until it ends. */
async function states(iterator: AsyncIterable<{ state: string }>): Promise<string[]> {
  const seen: string[] = [];
  for await (const task of iterator) seen.push(task.state);
  return seen;
}

describe('Queue.watchTask', () => {
  it('yields each state a task is seen in, ending with its result', async () => {
    const s = scope();
    const queue = s.queue<number, number>('watched');
    const task = await queue.enqueue(20);
    const watch = queue.watchTask(task.id);
    const first = await watch.next();
    expect(first.value).toMatchObject({ id: task.id, state: 'waiting', payload: 20 });

    const release = deferred();
    const worker = s.worker<number, number>('watched', async (t) => {
      await release.promise;
      return t.payload + 1;
    });
    await next(worker, 'active');
    const second = await watch.next();
    expect(second.value).toMatchObject({ state: 'active', attempt: 1 });

    release.resolve();
    const third = await watch.next();
    expect(third.value).toMatchObject({ state: 'completed', result: 21 });
    expect((await watch.next()).done).toBe(true);
  });

  it('ends at once for a task that is already final', async () => {
    const s = scope();
    const queue = s.queue('done');
    const task = await queue.enqueue('x');
    await queue.cancel(task.id);
    expect(await states(queue.watchTask(task.id))).toEqual(['cancelled']);
  });

  it('ends when the task is removed', async () => {
    const s = scope();
    const queue = s.queue('gone');
    const task = await queue.enqueue('x');
    const watch = queue.watchTask(task.id);
    expect((await watch.next()).value).toMatchObject({ state: 'waiting' });
    const ended = watch.next();
    await queue.remove(task.id);
    expect((await ended).done).toBe(true);
  });

  it('rejects a task that does not exist', async () => {
    const queue = scope().queue('none');
    await expect(queue.watchTask('missing').next()).rejects.toBeInstanceOf(TaskNotFoundError);
  });

  it('ends quietly when its signal aborts', async () => {
    const s = scope();
    const queue = s.queue('abort');
    const task = await queue.enqueue('x');
    const controller = new AbortController();
    const watch = queue.watchTask(task.id, { signal: controller.signal });
    expect((await watch.next()).value).toMatchObject({ state: 'waiting' });
    const ended = watch.next();
    controller.abort();
    expect((await ended).done).toBe(true);
  });

  it('ends with ClosedError when the queue closes', async () => {
    const s = scope();
    const queue = s.queue('closing');
    const task = await queue.enqueue('x');
    const watch = queue.watchTask(task.id);
    await watch.next();
    const ended = expect(watch.next()).rejects.toBeInstanceOf(ClosedError);
    await queue.close();
    await ended;
  });

  it('tells listeners about every batch of state changes', async () => {
    const s = scope();
    const queue = s.queue('listen');
    const seen: string[] = [];
    const allDone = deferred();
    const stop = queue.events.onChange((state, ids) => {
      seen.push(`${state}:${ids.length}`);
      if (state === 'completed') allDone.resolve();
    });
    await queue.events.ready();
    const task = await queue.enqueue('x');
    s.worker('listen', async () => 'ok');
    await allDone.promise;
    stop();
    expect(seen).toEqual(['active:1', 'completed:1']);
    expect(await queue.result(task.id)).toBe('ok');
  });

  it('tells outcome listeners about outcomes only, on a channel that claims do not publish to', async () => {
    const s = scope();
    const queue = s.queue('outcomes');
    const seen: string[] = [];
    const allDone = deferred();
    queue.events.onOutcome((state, ids, results) => {
      seen.push(`${state}:${ids.join(',')}:${results?.join(',')}`);
      if (state === 'completed') allDone.resolve();
    });
    await queue.events.ready();
    const task = await queue.enqueue('x');
    const worker = s.worker('outcomes', async () => 'ok');
    await allDone.promise;
    expect(seen).toEqual([`completed:${task.id}:"ok"`]);
    await worker.close();
    const channels = (await s.client().pubsub('CHANNELS', `${s.prefix}:*`)) as string[];
    expect(channels).toEqual([queue.keys.events]);
  });

  it('listens to the progress channel only while a watch or change listener needs it', async () => {
    const s = scope();
    const queue = s.queue('progress');
    const subscribed = async () => ((await s.client().pubsub('NUMSUB', queue.keys.progress)) as [string, number])[1];
    const watch = queue.watchTask((await queue.enqueue('x')).id);
    await watch.next();
    expect(await subscribed()).toBe(1);
    await watch.return(undefined);
    const stop = queue.events.onChange(() => {});
    await queue.events.ready();
    expect(await subscribed()).toBe(1);
    stop();
    // The UNSUBSCRIBE goes out on the shared connection; a PING behind it on the same
    // connection would tell, but that connection is private: ask until Redis agrees.
    while ((await subscribed()) !== 0) await new Promise((resolve) => setImmediate(resolve));
  });
});
