/**
 * The listen flags `serve` and `dev` (and so `npm start`) share: --port (default $PORT, else
 * 8080), --host (default $HOST, else 127.0.0.1), --tokens-file, --trust-proxy and
 * --max-topic-streams (each with its environment variable), and the tokens from the
 * environment (token-config.ts): never from a flag's value, which `ps` would show. Where
 * the port and host came from is kept, so an error can name the setting to change.
 */
import type { Command } from 'commander';
import { parsePort } from '../gateway/launch.js';
import type { ScopedToken } from '../gateway/scopes.js';
import { maxTopicStreamsFromEnvironment, tokensFromEnvironment, trustProxyFromEnvironment } from '../gateway/start-settings.js';
import { wholeNumber } from './parse.js';

export interface ListenFlags {
  port?: number;
  host?: string;
  tokensFile?: string;
  trustProxy?: string | boolean;
  maxTopicStreams?: number;
}

export interface ListenAddress {
  host: string;
  hostFrom: '--host' | 'HOST' | 'default';
  port: number;
  portFrom: '--port' | 'PORT' | 'default';
  token: string | undefined;
  tokens: ScopedToken[];
  trustProxy: boolean | string;
  maxTopicStreams: number | undefined;
}

export function gatewayFlags(command: Command): Command {
  return command
    .option('-p, --port <port>', 'port to listen on; 0 picks a free one (default: $PORT, else 8080)', wholeNumber(0, 65_535))
    .option('--host <address>', 'address to listen on; beyond loopback it needs $ERRAND_TOKEN, 16 characters or more (default: $HOST, else 127.0.0.1)')
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
  PORT, HOST            defaults of --port and --host
  ERRAND_LOG_LEVEL      log level (default info)`,
    );
}

export function listenAddress(flags: ListenFlags): ListenAddress {
  const env = process.env;
  const port =
    flags.port !== undefined
      ? { port: flags.port, portFrom: '--port' as const }
      : env.PORT
        ? { port: parsePort(env.PORT, 'PORT'), portFrom: 'PORT' as const }
        : { port: 8080, portFrom: 'default' as const };
  const host = flags.host
    ? { host: flags.host, hostFrom: '--host' as const }
    : env.HOST
      ? { host: env.HOST, hostFrom: 'HOST' as const }
      : { host: '127.0.0.1', hostFrom: 'default' as const };
  const maxTopicStreams = flags.maxTopicStreams ?? maxTopicStreamsFromEnvironment(env.ERRAND_MAX_TOPIC_STREAMS);
  return {
    ...host,
    ...port,
    ...tokensFromEnvironment(env, flags.tokensFile ?? (env.ERRAND_TOKENS_FILE || undefined)),
    trustProxy: flags.trustProxy === undefined ? trustProxyFromEnvironment(env.ERRAND_TRUST_PROXY) : flags.trustProxy,
    maxTopicStreams,
  };
}
