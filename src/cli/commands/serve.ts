/**
 * `errand serve`: the HTTP gateway alone (what `npm start` runs, without the demo), on the
 * Redis of --redis / REDIS_URL, until SIGINT or SIGTERM; then it ends its event streams,
 * closes and exits 128 + the signal's number (130 for Ctrl-C). The token comes from
 * ERRAND_TOKEN only (a flag would show it in `ps`); without one it refuses any address
 * beyond loopback.
 */
import { redactUrl } from '../connection.js';
import { runGateway } from '../gateway-run.js';
import { gatewayFlags, listenAddress, type ListenFlags } from '../listen.js';
import { createLogger, logLevelFromEnv } from '../logger.js';
import type { RegisterCommand } from './index.js';

export const registerServe: RegisterCommand = (program, cli) => {
  gatewayFlags(
    program
      .command('serve')
      .summary('run the HTTP gateway until interrupted')
      .description('run the HTTP gateway (JSON API under /v1, event streams, /healthz, /readyz, /metrics, /openapi.json) until SIGINT or SIGTERM'),
  ).action(async (flags: ListenFlags) => {
    const log = await createLogger(logLevelFromEnv());
    const address = listenAddress(flags);
    const redisUrl = cli.redisUrl;
    cli.exitCode = await runGateway({
      address,
      redis: redisUrl,
      prefix: cli.options.prefix,
      demo: false,
      unsafeAllowEviction: cli.options.unsafeAllowEviction,
      log,
      ready: (url) => `Errand gateway is ready: dashboard ${url}/ , HTTP API ${url}/v1 (see ${url}/openapi.json)`,
      // A gateway may start before its Redis (requests get 503 until it answers); say so.
      started: ({ gateway }) =>
        gateway.admin.ping().catch(() => {
          log.warn(`Redis at ${redactUrl(redisUrl)} does not answer (yet): requests get 503 until it does, and /readyz tells when it does`);
        }),
    });
  });
};
