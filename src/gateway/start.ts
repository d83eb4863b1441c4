/**
 * `npm start`: the gateway with the dashboard and its demo page, a demo worker and a demo
 * subscriber, on the Redis that findOrStartRedis finds (or starts). Settings come from the
 * environment:
 * PORT (default 8080), HOST (default 127.0.0.1), REDIS_URL, ERRAND_TOKEN (and the scoped
 * ERRAND_READ_TOKEN, ERRAND_ENQUEUE_TOKEN, ERRAND_TOKENS_FILE), ERRAND_PREFIX,
 * ERRAND_TRUST_PROXY, ERRAND_MAX_TOPIC_STREAMS, ERRAND_UNSAFE_ALLOW_EVICTION, LOG_LEVEL (default info). SIGINT/SIGTERM close everything in order: the demo consumers
 * (finishing their tasks), the gateway, then a private Redis; a second signal exits at once.
 * The steps are launch.ts's, shared with `errand serve` and `errand dev`.
 */
import { pino } from 'pino';
import { redactError } from '../redis/redact.js';
import { launch, parsePort } from './launch.js';
import { allowEvictionFromEnvironment, maxTopicStreamsFromEnvironment, tokensFromEnvironment, trustProxyFromEnvironment } from './start-settings.js';

// Logged errors never carry a Redis command's arguments (a failed AUTH's are the password).
const serializers = { err: (error: unknown) => pino.stdSerializers.err(redactError(error) as Error) };
const log = pino({ level: process.env.LOG_LEVEL || 'info', serializers });

async function main(): Promise<void> {
  const env = process.env;
  const started = launch({
    ...tokensFromEnvironment(env),
    trustProxy: trustProxyFromEnvironment(env.ERRAND_TRUST_PROXY),
    maxTopicStreams: maxTopicStreamsFromEnvironment(env.ERRAND_MAX_TOPIC_STREAMS),
    unsafeAllowEviction: allowEvictionFromEnvironment(env),
    redis: { find: { url: process.env.REDIS_URL } },
    prefix: process.env.ERRAND_PREFIX || undefined,
    host: process.env.HOST || '127.0.0.1',
    port: parsePort(process.env.PORT || '8080', 'PORT'),
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
