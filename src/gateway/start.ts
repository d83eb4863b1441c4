/**
 * `npm start`: the gateway with the dashboard and its demo page, a demo worker and a demo
 * subscriber, on the Redis that findOrStartRedis finds (or starts). Settings come from the
 * environment:
 * PORT (default 8080), HOST (default 127.0.0.1), REDIS_URL, ERRAND_TOKEN, ERRAND_PREFIX,
 * LOG_LEVEL (default info). SIGINT/SIGTERM close everything in order: the demo consumers
 * (finishing their tasks), the gateway, then a private Redis; a second signal exits at once.
 * The steps are launch.ts's, shared with `errand serve` and `errand dev`.
 */
import { pino } from 'pino';
import { launch, parsePort } from './launch.js';

const log = pino({ level: process.env.LOG_LEVEL || 'info' });

async function main(): Promise<void> {
  const started = launch({
    redis: { find: { url: process.env.REDIS_URL } },
    prefix: process.env.ERRAND_PREFIX || undefined,
    host: process.env.HOST || '127.0.0.1',
    port: parsePort(process.env.PORT || '8080', 'PORT'),
    token: process.env.ERRAND_TOKEN || undefined,
    demo: true,
    log,
  });
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1); // second signal: do not wait any longer
      stopping = true;
      // During start-up, this waits for it; a failed start has cleaned up after itself.
      void started.then(
        (launched) => launched.stop(signal).then(() => process.exit(0)),
        () => {},
      );
    });
  }
  const { gateway } = await started;
  log.info(`Errand is ready: dashboard ${gateway.url}/ , demo ${gateway.url}/demo , HTTP API ${gateway.url}/v1 (see ${gateway.url}/openapi.json)`);
}

main().catch((error: unknown) => {
  log.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
