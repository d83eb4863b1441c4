/**
 * `errand configure <queue>` changes a queue's settings (kept in Redis; every worker applies
 * them at its next claim), or with `--group`, one group's own limits; `errand settings
 * <queue>` prints them. Both print the settings in force afterwards.
 */
import { ValidationError, type QueueSettings } from '../../index.js';
import type { CliContext } from '../context.js';
import { formatFields, printJson, printLine } from '../output.js';
import { wholeNumber } from '../parse.js';
import { duration, groupLimitsPatch, limit, rateLimit, settingsPatch, type ConfigureFlags } from '../settings-flags.js';
import type { RegisterCommand } from './index.js';

interface ConfigureOptions extends ConfigureFlags {
  group?: string;
}

function rate(value: { max: number; perMs: number } | null): string {
  return value ? `${value.max} per ${value.perMs} ms` : 'none';
}

function printSettings(cli: CliContext, queue: string, settings: QueueSettings): void {
  if (cli.json) return printJson({ queue, ...settings });
  const { retention } = settings;
  printLine(
    formatFields([
      ['queue', queue],
      ['version', String(settings.version)],
      ['max waiting', settings.maxWaiting === null ? 'none' : String(settings.maxWaiting)],
      ['rate limit', rate(settings.rateLimit)],
      ['concurrency', settings.concurrency === null ? 'none' : String(settings.concurrency)],
      ['group concurrency', settings.groups.concurrency === null ? 'none' : String(settings.groups.concurrency)],
      ['group rate limit', rate(settings.groups.rateLimit)],
      ['keep completed', `${retention.completed.count}, for ${retention.completed.maxAgeMs} ms`],
      ['keep failed', `${retention.failed.count}, for ${retention.failed.maxAgeMs} ms`],
      ['partitions', String(settings.partitions)],
    ]),
  );
}

export const registerConfigure: RegisterCommand = (program, cli) => {
  program
    .command('configure')
    .summary("change a queue's settings (limits, capacity, retention)")
    .description(
      "change a queue's settings, kept in Redis and applied by every worker at its next claim (no restart); " +
        'with --group, one group\'s own limits. `none` removes a limit',
    )
    .argument('<queue>', 'queue name')
    .option('--max-waiting <n|none>', 'refuse enqueues while this many tasks wait (QUEUE_FULL)', limit)
    .option('--rate-limit <max/window|none>', 'tasks started at most per sliding window, across all workers, e.g. 100/1s', rateLimit)
    .option('--concurrency <n|none>', 'tasks active at once across all workers', limit)
    .option('--group-concurrency <n|none>', "each group's tasks active at once (the default for every group)", limit)
    .option('--group-rate-limit <max/window|none>', "each group's starts per window (the default for every group)", rateLimit)
    .option('--keep-completed <n>', 'completed tasks kept readable (0: none)', wholeNumber(0, 10_000_000))
    .option('--completed-max-age <duration>', 'how long completed tasks stay, e.g. 24h', duration)
    .option('--keep-failed <n>', 'failed (and cancelled) tasks kept', wholeNumber(0, 10_000_000))
    .option('--failed-max-age <duration>', 'how long failed tasks stay, e.g. 7d', duration)
    .option('--partitions <n>', 'spread the queue over n partitions, each its own hash slot (1-128; see docs/semantics.md "Partitioned queues")', wholeNumber(1, 128))
    .option('--group <name>', "change this group's own limits instead: with --concurrency and --rate-limit")
    .action(async (name: string, options: ConfigureOptions) => {
      const queue = cli.admin.queue(name);
      if (options.group !== undefined) {
        const others = Object.keys(options).filter((key) => !['group', 'concurrency', 'rateLimit'].includes(key));
        if (others.length) throw new ValidationError(`with --group, give --concurrency and --rate-limit only (not ${others.join(', ')})`);
        if (options.concurrency === undefined && options.rateLimit === undefined) {
          throw new ValidationError('with --group, give --concurrency and/or --rate-limit');
        }
        const limits = groupLimitsPatch(options);
        await cli.checkRedis();
        await queue.configureGroup(options.group, limits);
        if (cli.json) printJson({ queue: name, group: options.group, ...limits });
        else {
          const concurrency = limits.concurrency === undefined ? '(unchanged)' : (limits.concurrency ?? 'the default');
          const rateShown = limits.rateLimit === undefined ? '(unchanged)' : limits.rateLimit === null ? 'the default' : rate(limits.rateLimit);
          printLine(`group "${options.group}" of queue "${name}": concurrency ${concurrency}, rate limit ${rateShown}`);
        }
        return;
      }
      const patch = settingsPatch(options);
      if (!Object.keys(patch).length) throw new ValidationError('nothing to change: give at least one setting (errand configure --help lists them)');
      await cli.checkRedis();
      printSettings(cli, name, await queue.configure(patch));
    });

  program
    .command('settings')
    .summary("print a queue's settings")
    .description("print a queue's settings as stored in Redis, with the defaults filled in")
    .argument('<queue>', 'queue name')
    .action(async (name: string) => {
      await cli.checkRedis();
      printSettings(cli, name, await cli.admin.queue(name).settings());
    });
};
