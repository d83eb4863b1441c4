/** `errand resume <queue>`: workers claim the queue's tasks again. */
import type { RegisterCommand } from './index.js';
import { setPaused } from '../pausing.js';

export const registerResume: RegisterCommand = (program, cli) => {
  program
    .command('resume')
    .summary("let workers claim a paused queue's tasks again")
    .description("let workers claim the queue's tasks again after a pause")
    .argument('<queue>', 'queue name')
    .option('--group <name>', "resume only this group's tasks (the queue's other groups go on)")
    .action((queue: string, options: { group?: string }) => setPaused(cli, queue, false, options.group));
};
