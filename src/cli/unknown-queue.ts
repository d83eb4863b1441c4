/**
 * A task that is not found may be a typo in its queue's name (or the wrong --prefix): the
 * commands that read or act on one task by id say so, rather than only "no such task".
 */
import { TaskNotFoundError } from '../index.js';
import { CliError } from './cli-error.js';
import type { CliContext } from './context.js';

/** The error for a missing task: QUEUE_NOT_FOUND when the queue was never used, else TASK_NOT_FOUND. */
export async function taskNotFound(cli: CliContext, queue: string, id: string): Promise<Error> {
  if (await cli.admin.hasQueue(queue)) return new TaskNotFoundError(queue, id);
  const known = await cli.admin.queueNames();
  const prefix = cli.options.prefix ?? 'errand';
  const listed = known.length ? `known queues: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', ...' : ''}` : 'no queue is known there yet';
  return new CliError(
    'QUEUE_NOT_FOUND',
    `queue "${queue}" is unknown under prefix "${prefix}": nothing was ever enqueued to it (${listed}); check the name, or --prefix / ERRAND_PREFIX`,
  );
}
