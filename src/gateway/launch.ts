/**
 * Starting the gateway as a program, shared by `errand serve` and `errand dev` (which
 * `npm start` runs): checks the listen address before anything starts, finds Redis (as given,
 * or, when asked, the local one or a private redis-server: local-redis.ts), starts the
 * gateway listening and, for the demo, its worker and subscriber; and stops all of it in
 * reverse order. Signals and the ready message are the callers' (each says it its way).
 */
import type { Logger } from 'pino';
import { ValidationError } from '../errors.js';
import { listenTokens, startGateway, type ListeningGateway } from './app.js';
import type { ResolvedGatewayOptions } from './options.js';
import { assertSafeListen } from './auth.js';
import type { ScopedToken } from './scopes.js';
import { startDemoConsumers } from './demo.js';
import { findOrStartRedis, type RedisForStart } from './local-redis.js';

export interface LaunchOptions {
  /**
   * The Redis to use. A URL is used as is; `{ find }` is `npm start`'s rule: `find.url` as
   * is when set, else the Redis at `find.probeUrl` (default 127.0.0.1:6379) when it
   * answers, else a private redis-server.
   */
  redis: string | { find: { url?: string | undefined; probeUrl?: string | undefined } };
  prefix?: string | undefined;
  host: string;
  port: number;
  token?: string | undefined;
  /** Scoped tokens (ERRAND_TOKENS_FILE / --tokens-file). */
  tokens?: ScopedToken[] | undefined;
  /** Trust a TLS proxy's X-Forwarded-* headers (ERRAND_TRUST_PROXY / --trust-proxy). */
  trustProxy?: boolean | string | undefined;
  /** Topic event streams served at once (ERRAND_MAX_TOPIC_STREAMS / --max-topic-streams). */
  maxTopicStreams?: number | undefined;
  /** Serve over a Redis whose eviction policy may drop queue keys (ERRAND_UNSAFE_ALLOW_EVICTION / --unsafe-allow-eviction). */
  unsafeAllowEviction?: boolean | undefined;
  /** Serve the demo page and run the demo worker and subscriber. */
  demo: boolean;
  log: Logger;
}

export interface Launched {
  gateway: ListeningGateway;
  redis: RedisForStart;
  /** Stops the demo consumers (finishing their tasks), the gateway, then a private Redis. Idempotent. */
  stop(reason: string): Promise<void>;
}

/** Starts everything; on a failure, stops what already started and rethrows. */
export async function launch(options: LaunchOptions): Promise<Launched> {
  const { log } = options;
  // An open gateway beyond loopback is refused before a private Redis is started for it.
  assertSafeListen(options.host, listenTokens({ token: options.token, tokens: (options.tokens ?? []) as ResolvedGatewayOptions['tokens'] }));
  const cleanups: (() => Promise<void>)[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (reason: string) => (stopping ??= stopAll(reason, cleanups, log));
  try {
    const redis =
      typeof options.redis === 'string'
        ? { url: options.redis, private: false, stop: async () => {} }
        : await findOrStartRedis({ url: options.redis.find.url, probeUrl: options.redis.find.probeUrl, log });
    cleanups.push(redis.stop);
    const gateway = await startGateway({
      connection: redis.url,
      prefix: options.prefix,
      host: options.host,
      port: options.port,
      token: options.token,
      ...(options.tokens ? { tokens: options.tokens } : {}),
      ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
      ...(options.maxTopicStreams !== undefined ? { maxTopicStreams: options.maxTopicStreams } : {}),
      unsafeAllowEviction: options.unsafeAllowEviction ?? false,
      logger: log,
      demo: options.demo,
    });
    cleanups.push(gateway.close);
    if (options.demo) {
      const consumers = await startDemoConsumers({ connection: redis.url, prefix: options.prefix, log, unsafeAllowEviction: options.unsafeAllowEviction ?? false });
      cleanups.push(consumers.close);
    }
    return { gateway, redis, stop };
  } catch (error) {
    await stop('start failed');
    throw error;
  }
}

async function stopAll(reason: string, cleanups: (() => Promise<void>)[], log: Logger): Promise<void> {
  log.info(`${reason}: shutting down`);
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      // Shutting down goes on: what is left must still be stopped (a private Redis above all).
      log.warn({ err: error }, 'while shutting down');
    }
  }
  log.info('stopped');
}

/** `PORT` (or a --port value) as a port number, with a message naming the rule. */
export function parsePort(text: string, source: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) {
    throw new ValidationError(`${source} must be a port number from 0 to 65535 (0 picks a free one), got ${JSON.stringify(text)}`);
  }
  return port;
}
