/**
 * Actions over many tasks at once, for the faces: built on the Queue's one-task actions,
 * so each task changes state atomically and a task that changed meanwhile is skipped.
 */
import { TaskNotFoundError } from '../errors.js';
import type { Queue } from '../queue/queue.js';

const PAGE = 1_000;

/**
 * Removes every task in the dead-letter list (up to `limit`, default 10,000), newest first.
 * Returns the ids removed. Failures that arrive while it runs are left for a later call.
 */
export async function removeAllFailed(queue: Queue, { limit = 10_000 }: { limit?: number } = {}): Promise<string[]> {
  const removed: string[] = [];
  const expected = Math.min(limit, (await queue.counts()).failed);
  // Each page starts at the head: the tasks removed before it are gone from the list.
  for (let pages = Math.ceil(expected / PAGE); pages > 0 && removed.length < expected; pages--) {
    const page = await queue.list('failed', { offset: 0, limit: Math.min(PAGE, expected - removed.length) });
    if (!page.length) break;
    for (const task of page) {
      try {
        await queue.remove(task.id);
        removed.push(task.id);
      } catch (error) {
        // Removed or trimmed by someone else since the read: nothing left to do for it.
        if (!(error instanceof TaskNotFoundError)) throw error;
      }
    }
  }
  return removed;
}
