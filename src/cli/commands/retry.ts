/** `errand retry <queue> <id|--all-failed>`: put failed or cancelled tasks back in line. */
import type { RegisterCommand } from './index.js';
import { registerTaskAction } from '../task-action.js';

export const registerRetry: RegisterCommand = (program, cli) =>
  registerTaskAction(program, cli, {
    name: 'retry',
    summary: 'put a failed or cancelled task back in line',
    done: 'retried',
    one: (queue, id) => queue.retry(id),
    allFailed: { summary: 'retry every failed task (up to 10,000, oldest first)', run: (queue) => queue.retryAllFailed() },
  });
