/**
 * Processing a test's tasks to the end, for errand/testing:
 *
 * - `drain(queues)` waits until the queues are idle (nothing waiting, nothing running,
 *   nothing delayed whose time has come, no flow parent waiting for its children), whoever
 *   works on them;
 * - `runUntilIdle({ handlers })` runs the handlers inline, in the test's process (one
 *   Worker per queue of the map), until the same point, then closes them.
 *
 * Both return what ran, each task as it is at the end (`state` completed, failed, or delayed
 * for a retry whose time has not come): `runUntilIdle`, each task its handlers took, in the
 * order first taken; `drain`, each task taken while it waited, then every other finished
 * task the queues retain (completed and failed, by start; with a prefix per test, that is
 * what the test's workers did, also before `drain` was called). Idleness is checked again
 * on every state change the queues announce (no polling), and the wait is bounded by
 * `timeoutMs`.
 */
import type { ConnectionOption } from '../config.js';
import { ValidationError } from '../errors.js';
import { Queue } from '../queue/queue.js';
import type { TaskInfo } from '../queue/task.js';
import { Worker, type Handler } from '../queue/worker.js';

export interface DrainOptions {
  /** Give up (reject, naming what is left) after this many ms. Default 10,000. */
  timeoutMs?: number;
}

export interface RunUntilIdleOptions extends DrainOptions {
  /** Queue name -> handler, as for `errand worker`. */
  handlers: Record<string, Handler<any, any>>;
  connection?: ConnectionOption;
  prefix?: string;
  /** Handlers running at once per queue. Default 1 (tasks run one after another, in order). */
  concurrency?: number;
}

/** Waits until every queue is idle; resolves with the tasks that ran (see above). */
export async function drain(queues: Queue<any, any> | readonly Queue<any, any>[], { timeoutMs = 10_000 }: DrainOptions = {}): Promise<TaskInfo[]> {
  const list = Array.isArray(queues) ? [...(queues as readonly Queue[])] : [queues as Queue];
  checkTimeout(timeoutMs);
  const taken = await whileIdleComes(list, timeoutMs);
  const finished = await Promise.all(
    list.map(async (queue) => {
      const tasks = await Promise.all([queue.list('completed', { limit: 1000 }), queue.list('failed', { limit: 1000 })]);
      return tasks
        .flat()
        .sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0))
        .map((task) => ({ queue, id: task.id }));
    }),
  );
  return read([...taken, ...finished.flat()]);
}

/** Runs `handlers` inline until their queues are idle, then closes the workers; resolves with what ran. */
export async function runUntilIdle(options: RunUntilIdleOptions): Promise<TaskInfo[]> {
  const { handlers, connection, prefix, concurrency = 1, timeoutMs } = options;
  const names = Object.keys(handlers);
  if (!names.length) throw new ValidationError('runUntilIdle needs handlers: { queueName: async (task) => result }');
  checkTimeout(timeoutMs);
  const queues = names.map((name) => new Queue(name, { connection, prefix }));
  const workers: Worker[] = [];
  const errors: Error[] = [];
  try {
    const running = (async () => {
      // Listening starts before the workers do (drain subscribes first), so no claim is missed.
      await Promise.all(queues.map(async (queue) => Promise.all((await queue.partitionEvents()).map(({ events }) => events.ready()))));
      for (const name of names) {
        const worker = new Worker(name, handlers[name]!, { connection, prefix, concurrency });
        worker.on('error', (error) => errors.push(error));
        workers.push(worker);
      }
    })();
    const ran = whileIdleComes(queues, timeoutMs ?? 10_000);
    await running;
    const result = await read(await ran);
    if (errors.length) throw new AggregateError(errors, `runUntilIdle: a worker reported ${errors.length} error(s): ${errors[0]!.message}`);
    return result;
  } finally {
    await Promise.all(workers.map((worker) => worker.close({ timeoutMs: 1_000 })));
    await Promise.all(queues.map((queue) => queue.close()));
  }
}

function checkTimeout(timeoutMs: number | undefined): void {
  if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs < 1)) {
    throw new ValidationError(`timeoutMs must be a whole number of ms >= 1, got ${JSON.stringify(timeoutMs)}`);
  }
}

/** Waits until the queues are idle; resolves with the tasks claimed meanwhile, in claim order. */
async function whileIdleComes(list: Queue[], timeoutMs: number): Promise<{ queue: Queue; id: string }[]> {
  const taken = new Map<string, { queue: Queue; id: string }>();
  let recheck: (() => void) | undefined;
  // Every partition of a partitioned queue announces its own changes.
  const streams = (await Promise.all(list.map(async (queue) => (await queue.partitionEvents()).map(({ events }) => ({ queue, events }))))).flat();
  const stops = streams.map(({ queue, events }) =>
    events.onChange((state, ids) => {
      if (state === 'active') for (const id of ids) if (!taken.has(`${queue.name}\n${id}`)) taken.set(`${queue.name}\n${id}`, { queue, id });
      recheck?.();
    }),
  );
  try {
    await Promise.all(streams.map(({ events }) => events.ready()));
    await untilIdle(list, timeoutMs, (wake) => (recheck = wake));
  } finally {
    for (const stop of stops) stop();
  }
  return [...taken.values()];
}

/** The tasks as they are now, each once, in the order given (gone ones left out). */
async function read(tasks: { queue: Queue; id: string }[]): Promise<TaskInfo[]> {
  const seen = new Set<string>();
  const unique = tasks.filter(({ queue, id }) => !seen.has(`${queue.name}\n${id}`) && Boolean(seen.add(`${queue.name}\n${id}`)));
  const found = await Promise.all(unique.map(({ queue, id }) => queue.getTask(id)));
  return found.filter((task): task is TaskInfo => task !== null);
}

/** Resolves once all queues are idle at one check; every `wake` triggers another check. */
function untilIdle(queues: Queue[], timeoutMs: number, onWake: (wake: () => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let checking = false;
    let again = false;
    let done = false;
    let last = '';
    const timer = setTimeout(() => {
      done = true;
      reject(new Error(`not idle after ${timeoutMs} ms: ${last || 'no answer from Redis'} (is a worker running for these queues? runUntilIdle runs handlers inline)`));
    }, timeoutMs);
    const check = async () => {
      if (done) return;
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      try {
        const states = await Promise.all(queues.map(describeIdle));
        last = states.filter((state) => state !== true).join('; ');
        if (states.every((state) => state === true) && !done) {
          done = true;
          clearTimeout(timer);
          resolve();
        }
      } catch (error) {
        done = true;
        clearTimeout(timer);
        reject(error as Error);
      } finally {
        checking = false;
        if (again && !done) {
          again = false;
          void check();
        }
      }
    };
    onWake(() => void check());
    void check();
  });
}

/** True when nothing of the queue can run now; otherwise what is left, for the timeout's message. */
async function describeIdle(queue: Queue): Promise<true | string> {
  const counts = await queue.counts();
  const waiting = counts.paused ? 0 : counts.waiting; // a paused queue's tasks are not due
  let due = 0;
  if (counts.delayed > 0) {
    const [next] = await queue.list('delayed', { limit: 1 });
    if (next?.runAt !== undefined && next.runAt <= Date.now()) due = 1;
  }
  // A flow parent waiting for its children will run once they are done.
  if (waiting === 0 && counts.active === 0 && due === 0 && counts.dependencies === 0) return true;
  const flows = counts.dependencies ? `, ${counts.dependencies} waiting for their children (flows)` : '';
  return `queue "${queue.name}": ${counts.waiting} waiting${counts.paused ? ' (paused)' : ''}, ${counts.active} active, ${due ? 'delayed tasks due' : 'no delayed task due'}${flows}`;
}
