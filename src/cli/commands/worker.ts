/**
 * `errand worker <module>`: runs a Worker per queue of a handlers module (in this process,
 * or with --isolate in a pool of threads or processes per queue that load the module),
 * logs one line per task outcome, and shuts down gracefully: the first SIGINT or SIGTERM stops claiming and
 * lets running handlers finish (up to --close-timeout, then their tasks go back to the
 * queue); a second one exits at once (130 for SIGINT, 143 for SIGTERM), leaving running
 * tasks to come back when their leases expire.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError } from 'commander';
import type { Logger } from 'pino';
import { UnsafeEvictionPolicyError, ValidationError, Worker } from '../../index.js';
import type { CliContext } from '../context.js';
import { loadHandlers, type Handlers } from '../handlers.js';
import { createLogger, logLevelFromEnv } from '../logger.js';
import { wholeNumber } from '../parse.js';
import { watchStopSignals } from '../stop-signal.js';
import type { RegisterCommand } from './index.js';

interface WorkerCommandOptions {
  concurrency: number;
  lease?: number;
  closeTimeout: number;
  isolate?: 'thread' | 'process';
  timeout?: number;
  memoryLimit?: number;
}

function isolation(value: string): 'thread' | 'process' {
  if (value !== 'thread' && value !== 'process') throw new InvalidArgumentError('Use thread or process.');
  return value;
}

/** How long the process may linger after the workers closed before it exits anyway. */
const LINGER_MS = 2_000;

export const registerWorker: RegisterCommand = (program, cli) => {
  program
    .command('worker')
    .summary('run handlers from a .js or .ts module until interrupted')
    .description('run the handlers of a module until SIGINT or SIGTERM; a .js or .ts file whose default export maps queue names to handlers')
    .argument('<module>', 'path of the handlers module, e.g. ./handlers.ts')
    .option('-c, --concurrency <n>', 'handlers running at once, per queue', wholeNumber(1, 10_000), 1)
    .option('--lease <ms>', 'how long a claim holds without a heartbeat (default 30000)', wholeNumber(50))
    .option('--close-timeout <ms>', 'on the first signal, how long running handlers may finish before their tasks are released', wholeNumber(0), 30_000)
    .option('--isolate <kind>', 'run the handlers in a pool of worker threads (thread) or child processes (process), one task each at a time', isolation)
    .option('--timeout <ms>', 'fail an attempt that runs longer (tasks with their own timeoutMs keep it); with --isolate its thread or process is ended', wholeNumber(1))
    .option('--memory-limit <mb>', 'with --isolate: the heap limit of each thread or process, in MiB; past it the attempt fails', wholeNumber(16))
    .addHelpText('after', '\nExample handlers module:\n  export default { emails: async (task, { signal }) => send(task.payload) };\n\nLog level: $ERRAND_LOG_LEVEL (default info; debug adds a line when each task starts).')
    .action(async (modulePath: string, options: WorkerCommandOptions) => {
      const level = logLevelFromEnv();
      if (options.memoryLimit !== undefined && !options.isolate) {
        throw new ValidationError('--memory-limit applies to isolated handlers: add --isolate thread or --isolate process');
      }
      const handlers = await loadHandlers(modulePath);
      // An unreachable, password-refusing or evicting Redis is reported now, not retried forever.
      await cli.checkRedis();
      await cli.close(); // the workers open their own patient connections
      await runWorkers(cli, pathToFileURL(resolve(modulePath)), handlers, options, await createLogger(level));
      // The handlers module may hold handles of its own (a database pool, a timer) that
      // keep Node running after the workers are done: give them a moment, then exit.
      setTimeout(() => process.exit(), LINGER_MS).unref();
    });
};

async function runWorkers(cli: CliContext, module: URL, handlers: Handlers, options: WorkerCommandOptions, logger: Logger): Promise<void> {
  // The first signal closes gracefully (a Ctrl-C that npm delivers twice counts once); a
  // second one exits at once (stop-signal.ts).
  const stop = watchStopSignals({
    beforeExit: (signal) => logger.warn({ signal }, 'second signal: exiting now; running tasks come back when their leases expire'),
  });
  let failure: Error | undefined;
  try {
    // Isolated: each queue's pool loads the module and takes its handler by queue name.
    const workers = Object.entries(handlers).map(([queue, handler]) => {
      const worker = new Worker(queue, options.isolate ? module : handler, {
        connection: cli.redisUrl,
        prefix: cli.options.prefix,
        concurrency: options.concurrency,
        unsafeAllowEviction: cli.options.unsafeAllowEviction,
        ...(options.lease === undefined ? {} : { leaseMs: options.lease }),
        ...(options.isolate ? { isolation: options.isolate } : {}),
        ...(options.timeout === undefined ? {} : { timeoutMs: options.timeout }),
        ...(options.memoryLimit === undefined ? {} : { memoryLimitMb: options.memoryLimit }),
      });
      logOutcomes(worker, logger);
      // A reconnect that finds an evicting Redis closes the worker: the whole command stops, exit 1.
      worker.on('error', (error) => {
        if (!(error instanceof UnsafeEvictionPolicyError)) return;
        failure ??= error;
        stop.stop('SIGTERM');
      });
      return worker;
    });
    logger.info({ queues: Object.keys(handlers), concurrency: options.concurrency, ...(options.isolate ? { isolation: options.isolate } : {}) }, 'worker started');
    const signal = await stop.requested;
    const running = workers.reduce((sum, worker) => sum + worker.running, 0);
    logger.info({ signal, running }, 'closing: letting running tasks finish (send the signal again to exit at once)');
    await Promise.all(workers.map((worker) => worker.close({ timeoutMs: options.closeTimeout })));
    logger.info('closed');
    if (failure) throw failure; // the one line on stderr says why
  } finally {
    stop.dispose();
  }
}

/** One log line per outcome; the duration runs from the handler's start. */
function logOutcomes(worker: Worker, logger: Logger): void {
  const queue = worker.queue;
  const started = new Map<string, number>();
  const elapsed = (id: string) => {
    const start = started.get(id);
    started.delete(id);
    return start === undefined ? undefined : Date.now() - start;
  };
  worker.on('active', (task) => {
    started.set(task.id, Date.now());
    logger.debug({ queue, task: task.id, attempt: task.attempt }, 'started');
  });
  worker.on('completed', (task) => {
    logger.info({ queue, task: task.id, attempt: task.attempt, ms: elapsed(task.id) }, 'completed');
  });
  worker.on('failed', (task, error, willRetry) => {
    const fields = { queue, task: task.id, attempt: task.attempt, maxAttempts: task.maxAttempts, ms: elapsed(task.id), error: `${error.name}: ${error.message}` };
    if (willRetry) logger.warn(fields, 'failed, will retry');
    else logger.error(fields, 'failed for good');
  });
  worker.on('lost', (task) => {
    logger.warn({ queue, task: task.id, attempt: task.attempt, ms: elapsed(task.id) }, 'lease lost: outcome not recorded, the task runs again');
  });
  worker.on('error', (error) => {
    logger.error({ queue, error: error.message }, 'worker error (it keeps going)');
  });
}
