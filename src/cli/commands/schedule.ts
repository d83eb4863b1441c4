/**
 * `errand schedule add|list|rm|pause|resume|run`: a queue's schedules from the terminal.
 * `add` is the library's upsert (the same definition again changes nothing); the others
 * act on one schedule by id. Durations and times are read as people write them (`30s`,
 * `2030-01-01T09:00:00Z`).
 */
import { InvalidArgumentError } from 'commander';
import { ScheduleNotFoundError, type ScheduleDefinition, type ScheduleInfo } from '../../index.js';
import type { CliContext } from '../context.js';
import { formatFields, formatTable, formatTime, printJson, printLine } from '../output.js';
import { parseJsonArgument, wholeNumber } from '../parse.js';
import { duration } from '../settings-flags.js';
import type { RegisterCommand } from './index.js';

interface AddOptions {
  cron?: string;
  tz?: string;
  every?: number;
  payload?: string;
  catchUp?: 'none' | 'one' | 'all';
  maxCatchUp?: number;
  missedAfter?: number;
  startAt?: string;
  endAt?: string;
  limit?: number;
  attempts?: number;
  priority?: number;
  taskTimeout?: number;
  group?: string;
}

function catchUp(value: string): 'none' | 'one' | 'all' {
  if (value !== 'none' && value !== 'one' && value !== 'all') throw new InvalidArgumentError('Use none, one or all.');
  return value;
}

/** Epoch ms, or ISO 8601 with an offset (without one, a time would be read in this host's zone). */
function time() {
  return (value: string): string => {
    if (/^\d+$/.test(value)) return new Date(Number(value)).toISOString();
    if (!/(Z|[+-]\d\d:?\d\d)$/i.test(value) || Number.isNaN(Date.parse(value))) {
      throw new InvalidArgumentError('Use epoch ms or an ISO 8601 time with its offset, like 2030-01-01T09:00:00Z or 2030-01-01T10:00:00+01:00.');
    }
    return value;
  };
}

function definitionOf(options: AddOptions): ScheduleDefinition {
  const taskOptions = {
    ...(options.attempts !== undefined ? { attempts: options.attempts } : {}),
    ...(options.priority !== undefined ? { priority: options.priority } : {}),
    ...(options.taskTimeout !== undefined ? { timeoutMs: options.taskTimeout } : {}),
    ...(options.group !== undefined ? { group: options.group } : {}),
  };
  const isoOf = (value: string | undefined) => (value === undefined ? undefined : new Date(value).toISOString());
  return {
    ...(options.cron !== undefined ? { cron: options.cron } : {}),
    ...(options.tz !== undefined ? { tz: options.tz } : {}),
    ...(options.every !== undefined ? { everyMs: options.every } : {}),
    ...(options.payload !== undefined ? { payload: parseJsonArgument('--payload', options.payload) } : {}),
    ...(Object.keys(taskOptions).length ? { options: taskOptions } : {}),
    ...(options.catchUp !== undefined ? { catchUp: options.catchUp } : {}),
    ...(options.maxCatchUp !== undefined ? { maxCatchUp: options.maxCatchUp } : {}),
    ...(options.missedAfter !== undefined ? { missedAfterMs: options.missedAfter } : {}),
    ...(options.startAt !== undefined ? { startAt: isoOf(options.startAt)! } : {}),
    ...(options.endAt !== undefined ? { endAt: isoOf(options.endAt)! } : {}),
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
  };
}

function cadence(schedule: ScheduleInfo): string {
  const { cron, tz, everyMs } = schedule.definition;
  return cron !== undefined ? `cron ${cron}${tz ? ` (${tz})` : ''}` : `every ${everyMs} ms`;
}

function stateOf(schedule: ScheduleInfo): string {
  return schedule.ended ? 'ended' : schedule.paused ? 'paused' : 'active';
}

function printSchedule(cli: CliContext, queue: string, schedule: ScheduleInfo & { change?: string }): void {
  if (cli.json) return printJson({ queue, ...schedule });
  printLine(
    formatFields([
      ['schedule', schedule.id],
      ['queue', queue],
      ...(schedule.change ? ([['change', schedule.change]] as [string, string][]) : []),
      ['cadence', cadence(schedule)],
      ['state', stateOf(schedule)],
      ['next run', formatTime(schedule.nextRunAt ?? undefined) ?? '-'],
      ['last run', schedule.lastTaskId ? `${formatTime(schedule.lastRunAt ?? undefined)} (task ${schedule.lastTaskId})` : '-'],
      ['runs', String(schedule.runs)],
      ['catch-up', schedule.definition.catchUp],
      ['payload', JSON.stringify(schedule.definition.payload)],
    ]),
  );
}

export const registerSchedule: RegisterCommand = (program, cli) => {
  const schedule = program
    .command('schedule')
    .summary("add, list, pause, resume, run or remove a queue's schedules")
    .description(
      "a queue's schedules: a task at every slot of a cron expression or every period, created by the queue's workers, " +
        'one per slot however many run (see docs/semantics.md, Schedules)',
    );

  schedule
    .command('add')
    .summary('create or change a schedule (the same definition again changes nothing)')
    .argument('<queue>', 'queue name')
    .argument('<id>', 'schedule id (1-100 characters from A-Z a-z 0-9 . _ -)')
    .option('--cron <expression>', "a cron expression, 5 fields or 6 with seconds first, e.g. '0 3 * * *'")
    .option('--tz <zone>', 'the time zone the cron expression is read in, e.g. Europe/Berlin (default UTC)')
    .option('--every <duration>', 'a slot every period instead, at least 1s: 30s, 5m, 1h', duration)
    .option('--payload <json>', "each run's payload as JSON (default null)")
    .option('--catch-up <rule>', 'slots missed while no worker claimed: none, one (default) or all', catchUp)
    .option('--max-catch-up <n>', 'with --catch-up all: at most this many runs for them (default 100)', wholeNumber(1, 1_000))
    .option('--missed-after <duration>', 'with --catch-up none: a slot run later than this is skipped (default 60s)', duration)
    .option('--start-at <time>', 'no slot before this time (ISO 8601 or epoch ms)', time())
    .option('--end-at <time>', 'no slot after this time', time())
    .option('--limit <n>', 'at most this many runs in all', wholeNumber(1))
    .option('--attempts <n>', "each run's attempts (default 3)", wholeNumber(1, 10_000))
    .option('--priority <n>', "each run's priority (-1000000 to 1000000)", wholeNumber(-1_000_000, 1_000_000))
    .option('--task-timeout <ms>', "each run's handler timeout", wholeNumber(1))
    .option('--group <name>', "each run's group")
    .action(async (queue: string, id: string, options: AddOptions) => {
      const definition = definitionOf(options);
      await cli.checkRedis();
      printSchedule(cli, queue, await cli.admin.queue(queue).schedule(id, definition));
    });

  schedule
    .command('list')
    .summary("a queue's schedules, by next run")
    .argument('<queue>', 'queue name')
    .action(async (queue: string) => {
      await cli.checkRedis();
      const schedules = await cli.admin.queue(queue).schedules();
      if (cli.json) return printJson({ queue, schedules });
      if (!schedules.length) return printLine(`queue "${queue}" has no schedules (add one: errand schedule add ${queue} <id> --cron '0 3 * * *')`);
      printLine(
        formatTable(
          [
            { header: 'ID', value: (s) => s.id },
            { header: 'CADENCE', value: cadence },
            { header: 'STATE', value: stateOf },
            { header: 'NEXT RUN', value: (s) => formatTime(s.nextRunAt ?? undefined) ?? '-' },
            { header: 'LAST TASK', value: (s) => s.lastTaskId ?? '-' },
            { header: 'RUNS', align: 'right', value: (s) => String(s.runs) },
          ],
          schedules,
        ),
      );
    });

  schedule
    .command('rm')
    .summary('remove a schedule (the tasks it created stay)')
    .argument('<queue>', 'queue name')
    .argument('<id>', 'schedule id')
    .action(async (queue: string, id: string) => {
      await cli.checkRedis();
      if (!(await cli.admin.queue(queue).unschedule(id))) throw new ScheduleNotFoundError(queue, id);
      if (cli.json) printJson({ queue, id, removed: true });
      else printLine(`removed schedule "${id}" of queue "${queue}"`);
    });

  for (const action of ['pause', 'resume'] as const) {
    schedule
      .command(action)
      .summary(action === 'pause' ? 'pause a schedule (no slot falls due)' : 'resume a schedule from its first slot after now')
      .argument('<queue>', 'queue name')
      .argument('<id>', 'schedule id')
      .action(async (queue: string, id: string) => {
        await cli.checkRedis();
        const q = cli.admin.queue(queue);
        printSchedule(cli, queue, action === 'pause' ? await q.pauseSchedule(id) : await q.resumeSchedule(id));
      });
  }

  schedule
    .command('run')
    .summary('run a schedule now, besides its slots')
    .argument('<queue>', 'queue name')
    .argument('<id>', 'schedule id')
    .action(async (queue: string, id: string) => {
      await cli.checkRedis();
      const task = await cli.admin.queue(queue).runSchedule(id);
      if (cli.json) printJson({ queue, schedule: id, id: task.id });
      else printLine(task.id);
    });
};
