/**
 * `errand inspect <queue> <id>`: everything stored about one task (or why there is none: no
 * such task, or no such queue); `--watch` then prints a line each time the task moves or
 * reports progress, until it is final.
 */
import { validateTaskId } from '../../config.js';
import { TaskNotFoundError, type TaskInfo } from '../../index.js';
import type { CliContext } from '../context.js';
import { formatFields, formatJson, formatTime, printJson, printLine } from '../output.js';
import { formatProgress } from '../task-text.js';
import { taskNotFound } from '../unknown-queue.js';
import type { RegisterCommand } from './index.js';

export const registerInspect: RegisterCommand = (program, cli) => {
  program
    .command('inspect')
    .summary('show everything about one task')
    .description('show a task: state, attempts, payload, result or error, timings')
    .argument('<queue>', 'queue name')
    .argument('<id>', 'task id')
    .option('-w, --watch', 'then print a line each time the task moves or reports progress, until it is final (or Ctrl-C)')
    .action(async (name: string, id: string, options: { watch?: boolean }) => {
      const queue = cli.admin.queue(name);
      validateTaskId(id);
      await cli.checkRedis();
      if (options.watch) {
        await watch(cli, name, id);
        return;
      }
      const task = await queue.getTask(id);
      if (!task) throw await taskNotFound(cli, name, id);
      if (cli.json) printJson(task);
      else printLine(formatTask(task));
    });
};

/** The task, then a line per change (with --json, the task each time), until it is final. */
async function watch(cli: CliContext, name: string, id: string): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let first = true;
  try {
    for await (const task of cli.admin.queue(name).watchTask(id, { signal: stop.signal })) {
      if (cli.json) printJson(task);
      else if (first) printLine(formatTask(task));
      else printLine(formatChange(task));
      first = false;
    }
  } catch (error) {
    if (error instanceof TaskNotFoundError) throw await taskNotFound(cli, name, id);
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** One line: when it was seen, its state and attempt, its progress, and how it ended. */
function formatChange(task: TaskInfo): string {
  const parts = [new Date().toISOString(), task.state.padEnd(9), `attempt ${task.attempt} of ${task.maxAttempts}`];
  if (task.progress !== undefined) parts.push(formatProgress(task.progress));
  if (task.state === 'completed' && 'result' in task) parts.push(`result ${JSON.stringify(task.result)}`);
  if ((task.state === 'failed' || task.state === 'delayed') && task.error) parts.push(`${task.error.name}: ${task.error.message}`);
  return parts.join('  ');
}

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
    ['progress', task.progress === undefined ? undefined : formatProgress(task.progress)],
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
