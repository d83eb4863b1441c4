/**
 * The shape shared by `retry`, `cancel` and `remove`: one task by id, or (where it makes
 * sense) every failed task of the queue with `--all-failed`.
 */
import type { Command } from 'commander';
import { validateTaskId } from '../config.js';
import { TaskNotFoundError, ValidationError, type Queue } from '../index.js';
import type { CliContext } from './context.js';
import { printJson, printLine } from './output.js';
import { taskNotFound } from './unknown-queue.js';

export interface TaskActionSpec {
  name: 'retry' | 'cancel' | 'remove';
  summary: string;
  /** "retried", "cancelled", "removed". */
  done: string;
  one: (queue: Queue, id: string) => Promise<void>;
  /** The `--all-failed` form, when the action has one. */
  allFailed?: { summary: string; run: (queue: Queue) => Promise<string[]> };
}

export function registerTaskAction(program: Command, cli: CliContext, spec: TaskActionSpec): void {
  const command = program
    .command(spec.name)
    .summary(spec.summary)
    .description(spec.summary + (spec.allFailed ? `; with --all-failed, ${spec.allFailed.summary}` : ''))
    .argument('<queue>', 'queue name')
    .argument(spec.allFailed ? '[id]' : '<id>', 'task id');
  if (spec.allFailed) command.option('--all-failed', spec.allFailed.summary);
  command.action(async (queueName: string, id: string | undefined, options: { allFailed?: boolean }) => {
    if (spec.allFailed && (id === undefined) === !options.allFailed) {
      throw new ValidationError(`give ${spec.name} a task id or --all-failed (one of them): errand ${spec.name} <queue> <id|--all-failed>`);
    }
    const queue = cli.admin.queue(queueName);
    if (id !== undefined) validateTaskId(id);
    await cli.checkRedis();
    let ids: string[];
    if (id === undefined) {
      ids = await spec.allFailed!.run(queue);
    } else {
      try {
        await spec.one(queue, id);
      } catch (error) {
        if (error instanceof TaskNotFoundError) throw await taskNotFound(cli, queueName, id);
        throw error;
      }
      ids = [id];
    }
    if (cli.json) printJson({ queue: queueName, action: spec.name, ids });
    else if (id !== undefined) printLine(`${spec.done} task "${id}" of queue "${queueName}"`);
    else printLine(`${spec.done} ${ids.length} failed task${ids.length === 1 ? '' : 's'} of queue "${queueName}"`);
  });
}
