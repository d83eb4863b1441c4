/**
 * `errand enqueue <queue> [payload]`: one task from the argument, or many from NDJSON on
 * stdin or `--file`. Many are all read and checked first, then sent in batches with a
 * progress bar on a terminal. `--wait` awaits one task's result and prints it (saying so
 * when the task is still waiting after a few seconds: wait-notice.ts).
 */
import { parseTaskOptions } from '../../config.js';
import { ErrandError, QueueFullError, ValidationError, type Queue, type TaskOptions } from '../../index.js';
import type { CliContext } from '../context.js';
import { readNdjson, readNdjsonFile } from '../ndjson.js';
import { formatJson, printJson, printLine } from '../output.js';
import { parseJsonArgument, wholeNumber } from '../parse.js';
import { Progress } from '../progress.js';
import { waitWithNotice } from '../wait-notice.js';
import type { RegisterCommand } from './index.js';

interface EnqueueOptions {
  file?: string;
  delay?: number;
  priority?: number;
  attempts?: number;
  taskTimeout?: number;
  id?: string;
  dedupeKey?: string;
  group?: string;
  batch: number;
  wait?: boolean;
  waitTimeout?: number;
}

export const registerEnqueue: RegisterCommand = (program, cli) => {
  program
    .command('enqueue')
    .summary('add a task, or many from NDJSON')
    .description('add one task (JSON payload argument), or many (NDJSON, one payload per line, from stdin or --file)')
    .argument('<queue>', 'queue name')
    .argument('[payload]', `the task's payload as JSON, e.g. '{"to":"ada@example.com"}'`)
    .option('-f, --file <path>', 'read payloads from an NDJSON file ("-" for stdin)')
    .option('--delay <ms>', 'start no earlier than this many ms from now', wholeNumber(0))
    .option('--priority <n>', 'higher runs first (-1000000 to 1000000; default 0)', wholeNumber(-1_000_000, 1_000_000))
    .option('--attempts <n>', 'total runs allowed, the first included (default 3)', wholeNumber(1, 10_000))
    .option('--task-timeout <ms>', "abort the handler and fail the attempt after this long", wholeNumber(1))
    .option('--id <id>', 'your own task id; enqueueing an existing id returns that task (one task only)')
    .option('--dedupe-key <key>', 'while a task with this key is unfinished, return it instead (one task only)')
    .option('--group <name>', "the tasks' group (a tenant): claims rotate over groups, each may have its own limits")
    .option('--batch <n>', 'tasks per round trip when enqueueing many', wholeNumber(1, 10_000), 1_000)
    .option('--wait', "wait until the task finishes and print its result (one task only)")
    .option('--wait-timeout <ms>', 'with --wait: give up after this long (exit 1; the task goes on)', wholeNumber(1))
    .action(async (name: string, payload: string | undefined, options: EnqueueOptions) => {
      const queue = cli.admin.queue(name);
      const taskOptions = collectTaskOptions(options);
      if (payload !== undefined) {
        if (options.file !== undefined) throw new ValidationError('give the payload as an argument or --file, not both');
        await enqueueOne(cli, queue, parseJsonArgument('the payload', payload), taskOptions, options);
        return;
      }
      if (options.wait) throw new ValidationError('--wait works with one task: give its payload as an argument');
      if (options.id !== undefined || options.dedupeKey !== undefined) {
        throw new ValidationError('--id and --dedupe-key apply to one task: give its payload as an argument');
      }
      const payloads = await readPayloads(queue, options.file);
      await enqueueMany(cli, queue, payloads, taskOptions, options.batch);
    });
};

function collectTaskOptions(options: EnqueueOptions): TaskOptions {
  const taskOptions: TaskOptions = {};
  if (options.delay !== undefined) taskOptions.delayMs = options.delay;
  if (options.priority !== undefined) taskOptions.priority = options.priority;
  if (options.attempts !== undefined) taskOptions.attempts = options.attempts;
  if (options.taskTimeout !== undefined) taskOptions.timeoutMs = options.taskTimeout;
  if (options.id !== undefined) taskOptions.id = options.id;
  if (options.dedupeKey !== undefined) taskOptions.dedupeKey = options.dedupeKey;
  if (options.group !== undefined) taskOptions.group = options.group;
  return taskOptions;
}

async function enqueueOne(cli: CliContext, queue: Queue, payload: unknown, taskOptions: TaskOptions, options: EnqueueOptions): Promise<void> {
  parseTaskOptions(taskOptions); // a bad option is a usage error, said before Redis is asked
  await cli.checkRedis();
  const task = await queue.enqueue(payload, taskOptions);
  const about = { queue: queue.name, id: task.id, created: task.created };
  if (!options.wait) {
    if (cli.json) printJson(about);
    else printLine(task.id);
    return;
  }
  const result = await waitWithNotice(cli, queue, task.id, task.result(options.waitTimeout === undefined ? {} : { timeoutMs: options.waitTimeout }));
  if (cli.json) printJson({ ...about, state: 'completed', result });
  else printLine(result === undefined ? '' : formatJson(result));
}

async function readPayloads(queue: Queue, file: string | undefined): Promise<unknown[]> {
  const maxBytes = queue.options.maxPayloadBytes;
  let payloads: unknown[];
  if (file !== undefined && file !== '-') {
    payloads = await readNdjsonFile(file, maxBytes);
  } else {
    if (file === undefined && process.stdin.isTTY) {
      throw new ValidationError(
        `no payload: give one as an argument (errand enqueue ${queue.name} '{"n":1}'), --file <ndjson>, or pipe NDJSON on stdin`,
      );
    }
    payloads = await readNdjson(process.stdin, 'stdin', maxBytes);
  }
  if (!payloads.length) throw new ValidationError(`no tasks: ${file && file !== '-' ? file : 'stdin'} holds no JSON lines`);
  return payloads;
}

async function enqueueMany(cli: CliContext, queue: Queue, payloads: unknown[], taskOptions: TaskOptions, batch: number): Promise<void> {
  parseTaskOptions(taskOptions);
  await cli.checkRedis();
  const progress = new Progress(payloads.length, `enqueueing to "${queue.name}"`);
  const ids: string[] = [];
  let created = 0;
  try {
    for (let start = 0; start < payloads.length; start += batch) {
      const tasks = await queue.enqueueMany(payloads.slice(start, start + batch).map((payload) => ({ ...taskOptions, payload })));
      for (const task of tasks) {
        ids.push(task.id);
        if (task.created) created++;
      }
      progress.advance(tasks.length);
    }
  } catch (error) {
    if (error instanceof QueueFullError) {
      const sent = ids.length + error.enqueued.length;
      throw new ErrandError('QUEUE_FULL', `${error.message}; the first ${sent} of ${payloads.length} tasks were enqueued`, { cause: error });
    }
    throw error;
  } finally {
    progress.finish();
  }
  if (cli.json) printJson({ queue: queue.name, count: ids.length, created, ids });
  else printLine(`enqueued ${ids.length} tasks to "${queue.name}" (${created} new, ${ids.length - created} existing)`);
}
