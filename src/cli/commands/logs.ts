/**
 * `errand logs <queue> <id>`: a task's log (the lines its handlers wrote with
 * `context.log()`), each with its time and attempt; `--follow` prints lines as they are
 * written until the task is final, or until interrupted.
 */
import { printJson, printLine } from '../output.js';
import { formatDropped, formatLogLine } from '../task-text.js';
import { taskNotFound } from '../unknown-queue.js';
import { TaskNotFoundError, type TaskLogs } from '../../index.js';
import type { RegisterCommand } from './index.js';

export const registerLogs: RegisterCommand = (program, cli) => {
  program
    .command('logs')
    .summary("print a task's log")
    .description("print the lines a task's handlers logged (context.log), oldest first, with their time and attempt")
    .argument('<queue>', 'queue name')
    .argument('<id>', 'task id')
    .option('-f, --follow', 'keep printing lines as they are written, until the task is final (or Ctrl-C)')
    .action(async (name: string, id: string, options: { follow?: boolean }) => {
      const queue = cli.admin.queue(name);
      const show = (batch: TaskLogs) => {
        if (batch.dropped) {
          if (cli.json) printJson({ dropped: batch.dropped });
          else printLine(formatDropped(batch.dropped));
        }
        for (const line of batch.lines) {
          if (cli.json) printJson(line);
          else printLine(formatLogLine(line));
        }
      };
      try {
        if (!options.follow) {
          show(await queue.logs(id));
          return;
        }
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          for await (const batch of queue.followLogs(id, { signal: stop.signal })) show(batch);
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      } catch (error) {
        if (error instanceof TaskNotFoundError) throw await taskNotFound(cli, name, id);
        throw error;
      }
    });
};
