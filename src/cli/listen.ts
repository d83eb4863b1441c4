/**
 * The flags `serve` and `dev` share: --port (default $PORT, else 8080), --host (default
 * 127.0.0.1), --tokens-file, --trust-proxy and --max-topic-streams (each with its
 * environment variable), and the tokens from the environment (token-config.ts): never
 * from a flag's value, which `ps` would show.
 */
import type { Command } from 'commander';
import { parsePort } from '../gateway/launch.js';
import type { ScopedToken } from '../gateway/scopes.js';
import { maxTopicStreamsFromEnvironment, tokensFromEnvironment, trustProxyFromEnvironment } from '../gateway/start-settings.js';
import { wholeNumber } from './parse.js';

export interface ListenFlags {
  port?: number;
  host: string;
  tokensFile?: string;
  trustProxy?: string | boolean;
  maxTopicStreams?: number;
}

export interface ListenAddress {
  host: string;
  port: number;
  token: string | undefined;
  tokens: ScopedToken[];
  trustProxy: boolean | string;
  maxTopicStreams: number | undefined;
}

export function gatewayFlags(command: Command): Command {
  return command
    .option('-p, --port <port>', 'port to listen on; 0 picks a free one (default: $PORT, else 8080)', wholeNumber(0, 65_535))
    .option('--host <address>', 'address to listen on; beyond loopback it needs $ERRAND_TOKEN (16 characters or more)', '127.0.0.1')
    .option('--tokens-file <path>', 'JSON file of scoped tokens (read, enqueue, admin; optionally limited to queues, topics, channels) (default: $ERRAND_TOKENS_FILE)')
    .option('--trust-proxy [addresses]', "behind a TLS proxy: trust its X-Forwarded-* headers (all senders, or the proxies' addresses, comma-separated) (default: $ERRAND_TRUST_PROXY)")
    .option('--max-topic-streams <n>', 'topic event streams served at once, each one Redis connection (default: $ERRAND_MAX_TOPIC_STREAMS, else 100)', wholeNumber(0, 100_000))
    .addHelpText(
      'after',
      `
Environment:
  ERRAND_TOKEN          admin token every request must carry (except /healthz, /readyz); required beyond loopback
  ERRAND_READ_TOKEN     a token that may only read (and subscribe)
  ERRAND_ENQUEUE_TOKEN  a token that may only enqueue and publish
  PORT                  default of --port
  ERRAND_LOG_LEVEL      log level (default info)`,
    );
}

export function listenAddress(flags: ListenFlags): ListenAddress {
  const env = process.env;
  const maxTopicStreams = flags.maxTopicStreams ?? maxTopicStreamsFromEnvironment(env.ERRAND_MAX_TOPIC_STREAMS);
  return {
    host: flags.host,
    port: flags.port ?? parsePort(env.PORT || '8080', 'PORT'),
    ...tokensFromEnvironment(env, flags.tokensFile ?? (env.ERRAND_TOKENS_FILE || undefined)),
    trustProxy: flags.trustProxy === undefined ? trustProxyFromEnvironment(env.ERRAND_TRUST_PROXY) : flags.trustProxy,
    maxTopicStreams,
  };
}
