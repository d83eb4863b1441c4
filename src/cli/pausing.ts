/** What `pause` and `resume` share: the action (a queue, or one of its groups with --group) and its output. */
import type { CliContext } from './context.js';
import { printJson, printLine } from './output.js';

export async function setPaused(cli: CliContext, name: string, paused: boolean, group?: string): Promise<void> {
  const queue = cli.admin.queue(name);
  await cli.checkRedis();
  if (group !== undefined) {
    if (paused) await queue.pauseGroup(group);
    else await queue.resumeGroup(group);
    if (cli.json) printJson({ queue: name, group, paused });
    else printLine(paused ? `paused group "${group}" of queue "${name}": its tasks wait until "errand resume ${name} --group ${group}"` : `resumed group "${group}" of queue "${name}"`);
    return;
  }
  if (paused) await queue.pause();
  else await queue.resume();
  if (cli.json) printJson({ queue: name, paused });
  else printLine(paused ? `paused queue "${name}": workers claim nothing until "errand resume ${name}"` : `resumed queue "${name}"`);
}
