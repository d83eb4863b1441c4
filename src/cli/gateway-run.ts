/**
 * What `errand serve` and `errand dev` (and so `npm start`) share: run the gateway
 * (launch.ts) until the first SIGINT, SIGTERM or SIGHUP (or, under npm, until npm goes
 * away), then stop it in order and exit with 128 + the signal's number (130 for Ctrl-C); a
 * second signal exits at once.
 *
 * Every shutdown is bounded: when the orderly stop has not finished after
 * SHUTDOWN_DEADLINE_MS (Redis went away, and a connection waits for it), a private
 * redis-server is stopped anyway and the process exits, saying so. Start-up failures become
 * one line naming the fix (a port in use names where the port came from: --port or PORT).
 */
import type { Logger } from 'pino';
import { launch, type LaunchOptions, type Launched } from '../gateway/launch.js';
import { NoRedisError } from '../gateway/local-redis.js';
import { CliError } from './cli-error.js';
import type { ListenAddress } from './listen.js';
import { stopExitCode, watchStopSignals } from './stop-signal.js';

/** The whole shutdown, from the signal to the exit: well within the 5 s people wait for Ctrl-C. */
export const SHUTDOWN_DEADLINE_MS = 3_500;
/** How long the process may linger after everything closed before it exits anyway. */
const LINGER_MS = 500;

export interface GatewayRun extends Omit<LaunchOptions, 'log' | 'host' | 'port' | 'token' | 'tokens' | 'trustProxy' | 'maxTopicStreams'> {
  address: ListenAddress;
  log: Logger;
  /** The log line saying it is ready, given the gateway's URL. */
  ready(url: string): string;
  /** Called once listening, before waiting for a signal (e.g. to check Redis). */
  started?(launched: Launched): Promise<void>;
}

/** Runs until stopped; resolves with the exit code (and makes sure the process then exits). */
export async function runGateway(run: GatewayRun): Promise<number> {
  const { log, address } = run;
  const stop = watchStopSignals({ beforeExit: (signal) => log.warn({ signal }, 'second signal: exiting now') });
  try {
    let launched: Launched;
    try {
      launched = await launch({
        ...run,
        host: address.host,
        port: address.port,
        token: address.token,
        tokens: address.tokens,
        trustProxy: address.trustProxy,
        maxTopicStreams: address.maxTopicStreams,
      });
    } catch (error) {
      throw explainStartError(error, address);
    }
    await run.started?.(launched);
    log.info({ url: launched.gateway.url }, run.ready(launched.gateway.url));
    // A signal during start-up was kept: it stops the gateway now.
    const reason = await stop.requested;
    await stopWithin(launched, reason, log);
    // Handles left by user code or a connection waiting for Redis must not keep the process.
    setTimeout(() => process.exit(), LINGER_MS).unref();
    return stopExitCode(reason);
  } finally {
    stop.dispose();
  }
}

async function stopWithin(launched: Launched, reason: string, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), SHUTDOWN_DEADLINE_MS)));
  const outcome = await Promise.race([launched.stop(reason), deadline]);
  clearTimeout(timer);
  if (outcome !== 'late') return;
  log.warn(`shutdown did not finish within ${SHUTDOWN_DEADLINE_MS / 1000} s (is Redis unreachable?): exiting anyway; unfinished demo tasks run again when their leases expire`);
  // A private redis-server must never outlive us, even when the orderly stop is stuck.
  if (launched.redis.private) await Promise.race([launched.redis.stop(), new Promise((resolve) => setTimeout(resolve, 1_000))]);
}

/** The start-up errors people meet: no Redis to be had, a port in use or not allowed, an address not here. */
function explainStartError(error: unknown, address: ListenAddress): unknown {
  if (error instanceof NoRedisError) return new CliError('REDIS_UNAVAILABLE', error.message, 1, { cause: error });
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const { host, port } = address;
  const where = `${host}:${port}`;
  const otherPort = address.portFrom === 'PORT' ? 'set PORT to another port' : address.portFrom === '--port' ? 'pick another port with --port' : 'pick another port with --port or PORT';
  if (code === 'EADDRINUSE') {
    return new CliError('ADDRESS_IN_USE', `${where} is in use: stop what listens there, or ${otherPort} (0 picks a free one)`, 1, { cause: error });
  }
  if (code === 'EACCES') {
    return new CliError('ADDRESS_NOT_ALLOWED', `not allowed to listen on ${where} (ports below 1024 need privileges): ${otherPort}`, 1, { cause: error });
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    const hostFrom = address.hostFrom === 'HOST' ? 'set HOST to 127.0.0.1' : 'use --host 127.0.0.1';
    return new CliError('ADDRESS_NOT_AVAILABLE', `cannot listen on ${host}: no such address on this machine; ${hostFrom}, or an address of one of its interfaces`, 1, { cause: error });
  }
  return error;
}
