/** `errand inspect <queue> <id>`: everything stored about one task (or why there is none: no such task, or no such queue). */
import { validateTaskId } from '../../config.js';
import type { TaskInfo } from '../../index.js';
import { formatFields, formatJson, formatTime, printJson, printLine } from '../output.js';
import { taskNotFound } from '../unknown-queue.js';
import type { RegisterCommand } from './index.js';

export const registerInspect: RegisterCommand = (program, cli) => {
  program
    .command('inspect')
    .summary('show everything about one task')
    .description('show a task: state, attempts, payload, result or error, timings')
    .argument('<queue>', 'queue name')
    .argument('<id>', 'task id')
    .action(async (name: string, id: string) => {
      const queue = cli.admin.queue(name);
      validateTaskId(id);
      await cli.checkRedis();
      const task = await queue.getTask(id);
      if (!task) throw await taskNotFound(cli, name, id);
      if (cli.json) printJson(task);
      else printLine(formatTask(task));
    });
};

export function formatTask(task: TaskInfo): string {
  const error = task.error ? `${task.error.name}: ${task.error.message}` : undefined;
  const fields = formatFields([
    ['id', task.id],
    ['queue', task.queue],
    ['state', task.state],
    ['attempt', `${task.attempt} of ${task.maxAttempts}`],
    ['priority', String(task.priority)],
    ['created', formatTime(task.createdAt)],
    ['run at', formatTime(task.runAt)],
    ['started', formatTime(task.startedAt)],
    ['finished', formatTime(task.finishedAt)],
    ['worker', task.worker],
    ['dedupe key', task.dedupeKey],
    ['timeout', task.timeoutMs === undefined ? undefined : `${task.timeoutMs} ms`],
    ['backoff', task.backoff && formatJson(task.backoff)],
    ['payload', formatJson(task.payload)],
    ['result', 'result' in task ? formatJson(task.result) : undefined],
    ['error', error],
  ]);
  if (!task.attempts.length) return fields;
  const attempts = task.attempts.map(
    (attempt) => `  #${attempt.attempt}  ${formatTime(attempt.finishedAt)}  ${attempt.error.name}: ${attempt.error.message}`,
  );
  return `${fields}\nfailed attempts:\n${attempts.join('\n')}`;
}
