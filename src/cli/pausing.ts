/** What `pause` and `resume` share: the action and its output. */
import type { CliContext } from './context.js';
import { printJson, printLine } from './output.js';

export async function setPaused(cli: CliContext, name: string, paused: boolean): Promise<void> {
  const queue = cli.admin.queue(name);
  await cli.checkRedis();
  if (paused) await queue.pause();
  else await queue.resume();
  if (cli.json) printJson({ queue: name, paused });
  else printLine(paused ? `paused queue "${name}": workers claim nothing until "errand resume ${name}"` : `resumed queue "${name}"`);
}
