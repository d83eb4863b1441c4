/**
 * `npm start`: the gateway with the dashboard and its demo page, a demo worker and a demo
 * subscriber, on the Redis that findOrStartRedis finds (or starts). Settings come from the
 * environment: PORT (default 8080), HOST (default 127.0.0.1), REDIS_URL, ERRAND_TOKEN,
 * ERRAND_PREFIX, LOG_LEVEL (default info). SIGINT/SIGTERM close everything in order: the
 * demo consumers (finishing their tasks), the gateway, then a private Redis; a second
 * signal exits at once.
 */
import { pino } from 'pino';
import { startGateway } from './app.js';
import { startDemoConsumers } from './demo.js';
import { findOrStartRedis } from './local-redis.js';

const log = pino({ level: process.env.LOG_LEVEL || 'info' });

function portFromEnv(): number {
  const text = process.env.PORT || '8080';
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) throw new Error(`PORT must be a port number from 0 to 65535, got ${JSON.stringify(text)}`);
  return port;
}

async function main(): Promise<void> {
  const port = portFromEnv();
  const prefix = process.env.ERRAND_PREFIX || undefined;
  const redis = await findOrStartRedis({ url: process.env.REDIS_URL, log });
  const cleanups: (() => Promise<void>)[] = [redis.stop];
  const shutdown = async (reason: string) => {
    log.info(`${reason}: shutting down`);
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log.warn({ err: error }, 'while shutting down');
      }
    }
    log.info('stopped');
  };
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1); // second signal: do not wait any longer
      stopping = true;
      void shutdown(signal).then(() => process.exit(0));
    });
  }
  try {
    const gateway = await startGateway({
      connection: redis.url,
      prefix,
      host: process.env.HOST || '127.0.0.1',
      port,
      token: process.env.ERRAND_TOKEN || undefined,
      logger: log,
      demo: true,
    });
    cleanups.push(gateway.close);
    const consumers = await startDemoConsumers({ connection: redis.url, prefix, log });
    cleanups.push(consumers.close);
    log.info(`Errand is ready: dashboard ${gateway.url}/ , demo ${gateway.url}/demo , HTTP API ${gateway.url}/v1 (see ${gateway.url}/openapi.json)`);
  } catch (error) {
    await shutdown('start failed');
    throw error;
  }
}

main().catch((error: unknown) => {
  log.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
