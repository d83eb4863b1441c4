/** `errand remove <queue> <id|--all-failed>`: delete tasks for good. */
import { removeAllFailed } from '../../admin/bulk.js';
import type { RegisterCommand } from './index.js';
import { registerTaskAction } from '../task-action.js';

export const registerRemove: RegisterCommand = (program, cli) =>
  registerTaskAction(program, cli, {
    name: 'remove',
    summary: 'delete a task in any state',
    done: 'removed',
    one: (queue, id) => queue.remove(id),
    allFailed: { summary: 'delete every failed task (up to 10,000, newest first)', run: (queue) => removeAllFailed(queue) },
  });
