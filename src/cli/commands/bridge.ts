/**
 * `errand bridge <list> <queue>`: the legacy list bridge as a process (queue.adoptList):
 * moves the items that existing apps LPUSH into a plain Redis list (the seed's Flask
 * producer: `task:prodcons:queue`) into an Errand queue, as they arrive, until SIGINT or
 * SIGTERM (exit 0 once the batch in flight is done). Run it beside a gateway (`errand
 * serve`) and workers: each is its own process, and several bridges on one list are safe.
 *
 * Checks Redis first (one line and exit 1 when it does not answer), then the list (a list
 * or nothing yet: exit 2 otherwise); logs one line per batch moved (pino, as `worker`).
 */
import type { Logger } from 'pino';
import { Queue } from '../../index.js';
import type { CliContext } from '../context.js';
import { createLogger, logLevelFromEnv } from '../logger.js';
import { wholeNumber } from '../parse.js';
import { watchStopSignals } from '../stop-signal.js';
import type { RegisterCommand } from './index.js';

interface BridgeFlags {
  batchSize?: number;
  attempts?: number;
  priority?: number;
  taskTimeout?: number;
}

export const registerBridge: RegisterCommand = (program, cli) => {
  program
    .command('bridge')
    .summary('move the items legacy producers LPUSH into a Redis list into a queue, until interrupted')
    .description(
      'move the items of a plain Redis list (filled by legacy LPUSH producers) into a queue as tasks, oldest first, ' +
        'as they arrive, until SIGINT or SIGTERM; each item is always either still in the list or a task',
    )
    .argument('<list>', 'the Redis list the producers LPUSH into, e.g. task:prodcons:queue')
    .argument('<queue>', 'the queue whose workers take the items')
    .option('--batch-size <n>', 'most items moved per atomic step (default 100)', wholeNumber(1, 1000))
    .option('--attempts <n>', 'total runs allowed per task, the first included (default: 3)', wholeNumber(1, 10_000))
    .option('--priority <n>', 'priority of the tasks (default 0)', wholeNumber(-1_000_000, 1_000_000))
    .option('--task-timeout <ms>', 'abort the handler and fail the attempt after this long', wholeNumber(1))
    .addHelpText(
      'after',
      `
Example (the seed's Flask producer writes to database 5):
  errand bridge task:prodcons:queue demo --redis redis://127.0.0.1:6379/5
  redis-cli -n 5 LPUSH task:prodcons:queue 7     # becomes a task of queue "demo" with payload "7"

Log level: $ERRAND_LOG_LEVEL (default info).`,
    )
    .action(async (list: string, queueName: string, flags: BridgeFlags) => {
      const level = logLevelFromEnv();
      const queue = new Queue(queueName, { connection: cli.redisUrl, prefix: cli.options.prefix });
      try {
        await cli.redis.check(); // an unreachable Redis is reported now, not retried forever
        await cli.close(); // the bridge opens its own patient connections
        await runBridge(cli, queue, list, flags, await createLogger(level));
      } finally {
        await queue.close();
      }
    });
};

async function runBridge(cli: CliContext, queue: Queue, list: string, flags: BridgeFlags, log: Logger): Promise<void> {
  const stop = watchStopSignals({ beforeExit: (signal) => log.warn({ signal }, 'second signal: exiting now (a batch in flight is atomic: nothing is lost)') });
  try {
    const bridge = await queue.adoptList(list, {
      ...(flags.batchSize === undefined ? {} : { batchSize: flags.batchSize }),
      ...(flags.attempts === undefined ? {} : { attempts: flags.attempts }),
      ...(flags.priority === undefined ? {} : { priority: flags.priority }),
      ...(flags.taskTimeout === undefined ? {} : { timeoutMs: flags.taskTimeout }),
    });
    bridge.on('adopted', (ids) => log.info({ list, queue: queue.name, count: ids.length, first: ids[0], last: ids.at(-1) }, `moved ${ids.length} item(s) into the queue`));
    bridge.on('error', (error) => log.error({ list, queue: queue.name, error: error.message }, 'bridge error (it keeps trying)'));
    log.info({ list, queue: queue.name, prefix: cli.options.prefix ?? 'errand' }, `bridge started: items LPUSHed to "${list}" become tasks of queue "${queue.name}"`);
    const reason = await stop.requested;
    log.info({ reason, moved: bridge.adopted }, 'closing: finishing the batch in flight');
    await bridge.close();
    log.info('closed');
  } finally {
    stop.dispose();
  }
}
