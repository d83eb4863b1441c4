/**
 * The listen flags `serve` and `dev` share: --port (default $PORT, else 8080) and --host
 * (default 127.0.0.1), and the token from $ERRAND_TOKEN.
 */
import type { Command } from 'commander';
import { parsePort } from '../gateway/launch.js';
import { wholeNumber } from './parse.js';

export interface ListenFlags {
  port?: number;
  host: string;
}

export interface ListenAddress {
  host: string;
  port: number;
  token: string | undefined;
}

export function gatewayFlags(command: Command): Command {
  return command
    .option('-p, --port <port>', 'port to listen on; 0 picks a free one (default: $PORT, else 8080)', wholeNumber(0, 65_535))
    .option('--host <address>', 'address to listen on; beyond loopback it needs $ERRAND_TOKEN', '127.0.0.1')
    .addHelpText(
      'after',
      `
Environment:
  ERRAND_TOKEN      bearer token every request must carry (except /healthz, /readyz); required beyond loopback
  PORT              default of --port
  ERRAND_LOG_LEVEL  log level (default info)`,
    );
}

export function listenAddress(flags: ListenFlags): ListenAddress {
  return {
    host: flags.host,
    port: flags.port ?? parsePort(process.env.PORT || '8080', 'PORT'),
    token: process.env.ERRAND_TOKEN || undefined,
  };
}
