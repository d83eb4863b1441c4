/** `errand groups <queue>`: a queue's groups with waiting or active tasks, largest backlog first. */
import type { CliContext } from '../context.js';
import { formatTable, formatTime, printJson, printLine } from '../output.js';
import { wholeNumber } from '../parse.js';
import type { RegisterCommand } from './index.js';

export const registerGroups: RegisterCommand = (program, cli: CliContext) => {
  program
    .command('groups')
    .summary("list a queue's groups, largest backlog first")
    .description("list a queue's groups with waiting or active tasks, largest backlog first, with their own limits and holds")
    .argument('<queue>', 'queue name')
    .option('--limit <n>', 'groups shown', wholeNumber(1, 1_000), 50)
    .option('--offset <n>', 'groups skipped first', wholeNumber(0), 0)
    .action(async (name: string, options: { limit: number; offset: number }) => {
      await cli.checkRedis();
      const { total, groups } = await cli.admin.queue(name).groups(options);
      if (cli.json) return printJson({ queue: name, total, groups });
      if (!groups.length) return printLine(`queue "${name}" has no group with waiting or active tasks`);
      printLine(
        formatTable(
          [
            { header: 'group', value: (g) => g.name },
            { header: 'waiting', align: 'right', value: (g) => String(g.waiting) },
            { header: 'active', align: 'right', value: (g) => String(g.active) },
            { header: 'state', value: (g) => (g.paused ? 'paused' : g.heldUntil && g.heldUntil > Date.now() ? `held until ${formatTime(g.heldUntil)}` : 'ready') },
            {
              header: 'own limits',
              value: (g) =>
                [
                  g.limits.concurrency !== undefined ? `concurrency ${g.limits.concurrency}` : '',
                  g.limits.rateLimit ? `${g.limits.rateLimit.max}/${g.limits.rateLimit.perMs}ms` : '',
                ].filter(Boolean).join(', ') || '-',
            },
          ],
          groups,
        ),
      );
      if (total > options.offset + groups.length) printLine(`(${groups.length} of ${total} groups: --offset ${options.offset + groups.length} for more)`);
    });
};
