/** `errand pause <queue>`: workers stop claiming the queue's tasks; running ones go on. */
import type { RegisterCommand } from './index.js';
import { setPaused } from '../pausing.js';

export const registerPause: RegisterCommand = (program, cli) => {
  program
    .command('pause')
    .summary("stop workers from claiming a queue's tasks")
    .description("stop workers from claiming the queue's tasks (running tasks go on; enqueues are still accepted)")
    .argument('<queue>', 'queue name')
    .option('--group <name>', "pause only this group's tasks (the queue's other groups go on)")
    .action((queue: string, options: { group?: string }) => setPaused(cli, queue, true, options.group));
};
