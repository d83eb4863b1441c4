/**
 * The listen flags `serve` and `dev` (and so `npm start`) share: --port (default $PORT, else
 * 8080) and --host (default $HOST, else 127.0.0.1), and the token from $ERRAND_TOKEN. Where
 * each value came from is kept, so an error can name the setting to change.
 */
import type { Command } from 'commander';
import { parsePort } from '../gateway/launch.js';
import { wholeNumber } from './parse.js';

export interface ListenFlags {
  port?: number;
  host?: string;
}

export interface ListenAddress {
  host: string;
  hostFrom: '--host' | 'HOST' | 'default';
  port: number;
  portFrom: '--port' | 'PORT' | 'default';
  token: string | undefined;
}

export function gatewayFlags(command: Command): Command {
  return command
    .option('-p, --port <port>', 'port to listen on; 0 picks a free one (default: $PORT, else 8080)', wholeNumber(0, 65_535))
    .option('--host <address>', 'address to listen on; beyond loopback it needs $ERRAND_TOKEN (default: $HOST, else 127.0.0.1)')
    .addHelpText(
      'after',
      `
Environment:
  ERRAND_TOKEN      bearer token every request must carry (except /healthz, /readyz); required beyond loopback
  PORT, HOST        defaults of --port and --host
  ERRAND_LOG_LEVEL  log level (default info)`,
    );
}

export function listenAddress(flags: ListenFlags): ListenAddress {
  const port =
    flags.port !== undefined
      ? { port: flags.port, portFrom: '--port' as const }
      : process.env.PORT
        ? { port: parsePort(process.env.PORT, 'PORT'), portFrom: 'PORT' as const }
        : { port: 8080, portFrom: 'default' as const };
  const host = flags.host
    ? { host: flags.host, hostFrom: '--host' as const }
    : process.env.HOST
      ? { host: process.env.HOST, hostFrom: 'HOST' as const }
      : { host: '127.0.0.1', hostFrom: 'default' as const };
  return { ...host, ...port, token: process.env.ERRAND_TOKEN || undefined };
}
