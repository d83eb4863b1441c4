/**
 * `enqueue --wait` must not wait in silence: when the task is still waiting after
 * NOTICE_AFTER_MS, a warning on stderr says so, and whether any worker listens on its
 * queue (none: nothing will ever run it until one starts). A wait that times out names the
 * flag that bounds it (--wait-timeout), not the library's option.
 */
import { WaitTimeoutError, type Queue } from '../index.js';
import { CliError } from './cli-error.js';
import type { CliContext } from './context.js';
import { warning } from './notices.js';

export const NOTICE_AFTER_MS = 3_000;

/** Awaits the task's result with the notice; a timeout becomes a line naming --wait-timeout. */
export async function waitWithNotice<R>(cli: CliContext, queue: Queue, id: string, waiting: Promise<R>): Promise<R> {
  const timer = setTimeout(() => void explain(cli, queue, id).catch(() => {}), NOTICE_AFTER_MS);
  try {
    return await waiting;
  } catch (error) {
    if (error instanceof WaitTimeoutError) {
      throw new CliError(
        'WAIT_TIMEOUT',
        `task "${id}" did not finish within ${error.timeoutMs} ms (--wait-timeout); it is still queued or running: see it with errand inspect ${queue.name} ${id}, or wait longer with a larger --wait-timeout`,
        1,
        { cause: error },
      );
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function explain(cli: CliContext, queue: Queue, id: string): Promise<void> {
  const [task, workers] = await Promise.all([queue.getTask(id), queue.workers()]);
  if (!task || (task.state !== 'waiting' && task.state !== 'delayed')) return; // running or done: it is coming
  const seconds = NOTICE_AFTER_MS / 1000;
  const paused = (await queue.counts()).paused;
  if (paused) {
    warning(cli, `task "${id}" is still ${task.state} after ${seconds} s: queue "${queue.name}" is paused (errand resume ${queue.name}); still waiting, Ctrl-C to stop`);
  } else if (!workers.length) {
    warning(cli, `task "${id}" is still ${task.state} after ${seconds} s: no worker is listening on queue "${queue.name}" (start one: errand worker <handlers module>); still waiting, Ctrl-C to stop`);
  } else {
    warning(cli, `task "${id}" is still ${task.state} after ${seconds} s: ${workers.length} worker(s) listen on queue "${queue.name}", all busy; still waiting, Ctrl-C to stop`);
  }
}
