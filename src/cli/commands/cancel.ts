/** `errand cancel <queue> <id>`: end a waiting, delayed or active task as cancelled. */
import type { RegisterCommand } from './index.js';
import { registerTaskAction } from '../task-action.js';

export const registerCancel: RegisterCommand = (program, cli) =>
  registerTaskAction(program, cli, {
    name: 'cancel',
    summary: 'end a waiting, delayed or active task as cancelled',
    done: 'cancelled',
    one: (queue, id) => queue.cancel(id),
  });
