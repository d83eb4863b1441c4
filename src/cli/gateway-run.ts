/**
 * What `errand serve` and `errand dev` share: run the gateway (launch.ts, the same steps
 * as `npm start`) until the first SIGINT or SIGTERM, then stop it in order and return; a
 * second signal exits at once. Start-up failures become one line naming the fix.
 */
import type { Logger } from 'pino';
import { launch, type LaunchOptions, type Launched } from '../gateway/launch.js';
import { NoRedisError } from '../gateway/local-redis.js';
import { CliError } from './cli-error.js';
import { watchStopSignals } from './stop-signal.js';

export interface GatewayRun extends Omit<LaunchOptions, 'log'> {
  log: Logger;
  /** The log line saying it is ready, given the gateway's URL. */
  ready(url: string): string;
  /** Called once listening, before waiting for a signal (e.g. to check Redis). */
  started?(launched: Launched): Promise<void>;
}

export async function runGateway(run: GatewayRun): Promise<void> {
  const { log } = run;
  const stop = watchStopSignals((signal) => log.warn({ signal }, 'second signal: exiting now'));
  try {
    let launched: Launched;
    try {
      launched = await launch(run);
    } catch (error) {
      throw explainStartError(error, run.host, run.port);
    }
    await run.started?.(launched);
    log.info({ url: launched.gateway.url }, run.ready(launched.gateway.url));
    // A signal during start-up was kept: it stops the gateway now.
    await launched.stop(await stop.requested);
  } finally {
    stop.dispose();
  }
}

/** The start-up errors people meet: no Redis to be had, a port in use or not allowed, an address not here. */
function explainStartError(error: unknown, host: string, port: number): unknown {
  if (error instanceof NoRedisError) return new CliError('REDIS_UNAVAILABLE', error.message, 1, { cause: error });
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host}:${port}`;
  if (code === 'EADDRINUSE') {
    return new CliError('ADDRESS_IN_USE', `${where} is in use: stop what listens there, or pick another port with --port (0 picks a free one)`, 1, { cause: error });
  }
  if (code === 'EACCES') {
    return new CliError('ADDRESS_NOT_ALLOWED', `not allowed to listen on ${where} (ports below 1024 need privileges): pick another port with --port`, 1, { cause: error });
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new CliError('ADDRESS_NOT_AVAILABLE', `cannot listen on ${host}: no such address on this machine; use --host 127.0.0.1, or an address of one of its interfaces`, 1, { cause: error });
  }
  return error;
}
