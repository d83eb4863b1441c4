/**
 * `errand stats [queue]`: a table of queues with their sizes, live workers and recent
 * throughput; `--watch` redraws it until interrupted.
 *
 * Throughput comes from the queues' cumulative counters read twice: once, and again
 * `--interval` ms later (with --watch, each refresh against the one before).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { readQueueStats, throughput, type QueueStats, type Throughput } from '../../admin/stats.js';
import { validateName } from '../../config.js';
import type { CliContext } from '../context.js';
import { formatTable, printJson, printLine, type Column } from '../output.js';
import { wholeNumber } from '../parse.js';
import type { RegisterCommand } from './index.js';

interface StatsOptions {
  watch?: boolean;
  interval: number;
}

interface StatsRow extends QueueStats {
  throughput: Throughput | null;
}

export const registerStats: RegisterCommand = (program, cli) => {
  program
    .command('stats')
    .summary('show queues, their tasks per state and throughput')
    .description('show queues: tasks per state, live workers, and tasks per second')
    .argument('[queue]', 'only this queue (default: every queue under the prefix)')
    .option('-w, --watch', 'refresh until interrupted (Ctrl-C)')
    .option('-i, --interval <ms>', 'time between the two readings that give throughput, and between refreshes; 0 skips throughput', wholeNumber(0, 3_600_000), 1_000)
    .action(async (queue: string | undefined, options: StatsOptions) => {
      if (options.watch) await watch(cli, queue, Math.max(options.interval, 100));
      else await once(cli, queue, options.interval);
    });
};

async function read(cli: CliContext, queue: string | undefined): Promise<QueueStats[]> {
  if (queue !== undefined) validateName('queue', queue);
  await cli.checkRedis();
  return readQueueStats(cli.admin, queue === undefined ? undefined : [queue]);
}

function withThroughput(before: QueueStats[] | undefined, after: QueueStats[]): StatsRow[] {
  return after.map((stats) => ({ ...stats, throughput: throughput(before?.find((b) => b.name === stats.name), stats) }));
}

async function once(cli: CliContext, queue: string | undefined, intervalMs: number): Promise<void> {
  let before: QueueStats[] | undefined;
  if (intervalMs > 0) {
    before = await read(cli, queue);
    await delay(intervalMs);
  }
  show(cli, withThroughput(before, await read(cli, queue)));
}

/** Refreshes until SIGINT or SIGTERM, then returns (exit code 0). */
async function watch(cli: CliContext, queue: string | undefined, intervalMs: number): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const redraw = process.stdout.isTTY === true && !cli.json;
  try {
    let before: QueueStats[] | undefined;
    while (!stop.signal.aborted) {
      const after = await read(cli, queue);
      if (redraw) process.stdout.write('\x1b[H\x1b[2J');
      show(cli, withThroughput(before, after));
      if (redraw) printLine(`\nevery ${intervalMs / 1000}s, Ctrl-C to stop`);
      else if (!cli.json) printLine('');
      before = after;
      await delay(intervalMs, undefined, { signal: stop.signal }).catch(() => {});
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function show(cli: CliContext, rows: StatsRow[]): void {
  if (cli.json) {
    printJson(rows);
    return;
  }
  if (!rows.length) {
    printLine(`no queues under prefix "${cli.admin.prefix}" yet (a queue appears once a task is enqueued or a worker starts)`);
    return;
  }
  printLine(formatTable(COLUMNS, rows));
  // A partitioned queue shown alone: its partitions, one row each.
  const partitions = rows.length === 1 ? rows[0]!.partitions : undefined;
  if (partitions) {
    printLine('');
    printLine(formatTable(PARTITION_COLUMNS, partitions));
  }
}

type PartitionRow = NonNullable<StatsRow['partitions']>[number];
const PARTITION_COLUMNS: Column<PartitionRow>[] = [
  { header: 'PARTITION', align: 'right', value: (row) => String(row.partition) },
  { header: 'ROUTED', value: (row) => (row.routed ? 'yes' : 'draining') },
  { header: 'PAUSED', value: (row) => (row.paused ? 'yes' : 'no') },
  ...(['waiting', 'delayed', 'active', 'completed', 'failed', 'cancelled'] as const).map((key) => ({ header: key.toUpperCase(), align: 'right' as const, value: (row: PartitionRow) => String(row[key]) })),
];

const count = (key: 'waiting' | 'delayed' | 'active' | 'completed' | 'failed' | 'cancelled' | 'workers') => (row: StatsRow) =>
  String(row[key]);
const rate = (key: keyof Throughput) => (row: StatsRow) => (row.throughput ? row.throughput[key].toFixed(1) : '-');

const COLUMNS: Column<StatsRow>[] = [
  { header: 'QUEUE', value: (row) => row.name },
  { header: 'PAUSED', value: (row) => (row.paused ? 'yes' : 'no') },
  { header: 'WAITING', align: 'right', value: count('waiting') },
  { header: 'DELAYED', align: 'right', value: count('delayed') },
  { header: 'ACTIVE', align: 'right', value: count('active') },
  { header: 'COMPLETED', align: 'right', value: count('completed') },
  { header: 'FAILED', align: 'right', value: count('failed') },
  { header: 'CANCELLED', align: 'right', value: count('cancelled') },
  { header: 'WORKERS', align: 'right', value: count('workers') },
  { header: 'IN/S', align: 'right', value: rate('enqueuedPerSec') },
  { header: 'DONE/S', align: 'right', value: rate('completedPerSec') },
  { header: 'FAILED/S', align: 'right', value: rate('failedPerSec') },
];
