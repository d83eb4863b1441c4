/**
 * `errand dev`: what `npm start` runs, from the command line: the gateway with the demo
 * page, a demo worker and a demo subscriber, and Redis found as `npm start` finds it:
 *
 *   --redis / REDIS_URL   used as is (checked first: one line and exit 1 when it does not answer);
 *   otherwise             the Redis at --local-redis (default 127.0.0.1:6379) when it answers,
 *                         else a private redis-server on a free port, stopped and deleted on exit.
 *
 * Runs until SIGINT or SIGTERM, then stops in order (demo consumers, gateway, private Redis)
 * within a deadline (gateway-run.ts). `npm start` runs this command (build/start.mjs).
 */
import { LOCAL_REDIS_URL } from '../../gateway/local-redis.js';
import { ValidationError } from '../../index.js';
import type { CliContext } from '../context.js';
import { runGateway } from '../gateway-run.js';
import { gatewayFlags, listenAddress, type ListenFlags } from '../listen.js';
import { createLogger, logLevelFromEnv } from '../logger.js';
import type { LaunchOptions } from '../../gateway/launch.js';
import type { RegisterCommand } from './index.js';

interface DevFlags extends ListenFlags {
  localRedis?: string;
}

export const registerDev: RegisterCommand = (program, cli) => {
  gatewayFlags(
    program
      .command('dev')
      .summary('run the gateway with the demo, a demo worker and subscriber (and Redis if needed)')
      .description(
        'run what npm start runs: the gateway with the demo page, a demo worker and a demo subscriber; ' +
          'without --redis or REDIS_URL, use the Redis at --local-redis if it answers, else start a private redis-server',
      )
      .option('--local-redis <url>', `without --redis: the Redis to use if it answers, else a private one is started (default ${LOCAL_REDIS_URL}; overrides $REDIS_URL)`),
  ).action(async (flags: DevFlags) => {
    const log = await createLogger(logLevelFromEnv());
    const address = listenAddress(flags);
    const redis = await chooseRedis(cli, flags.localRedis);
    cli.exitCode = await runGateway({
      address,
      redis,
      prefix: cli.options.prefix,
      demo: true,
      unsafeAllowEviction: cli.options.unsafeAllowEviction,
      log,
      ready: (url) => `Errand is ready: dashboard ${url}/ , demo ${url}/demo , HTTP API ${url}/v1 (see ${url}/openapi.json)`,
    });
  });
};

async function chooseRedis(cli: CliContext, localRedis: string | undefined): Promise<LaunchOptions['redis']> {
  if (localRedis !== undefined) {
    if (cli.options.redis !== undefined) {
      throw new ValidationError('give --redis (use that Redis) or --local-redis (use it if it answers, else start one), not both');
    }
    if (!/^rediss?:\/\/./.test(localRedis)) {
      throw new ValidationError(`invalid --local-redis ${JSON.stringify(localRedis)}: use redis://host:port (a single server)`);
    }
    return { find: { probeUrl: localRedis } };
  }
  if (cli.options.redis === undefined && !process.env.REDIS_URL) return { find: {} };
  // A Redis given by name is used as is: say now if it does not answer, rather than serve 503s.
  await cli.checkRedis();
  await cli.close();
  return cli.redisUrl;
}
