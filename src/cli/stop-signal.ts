/**
 * How long-running commands (subscribe, serve, dev) are stopped: the first SIGINT (Ctrl-C)
 * or SIGTERM asks them to finish gracefully, and they exit 0 once they have; a second one
 * exits at once, with 130 (SIGINT) or 143 (SIGTERM), as `errand worker` does.
 */

export const SIGNAL_EXIT_CODES: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

export interface StopRequest {
  /** Resolves with the first signal's name, or the reason given to `stop`. */
  readonly requested: Promise<string>;
  /** Asks to stop without a signal (e.g. stdout was closed). */
  stop(reason: string): void;
  /** Removes the signal handlers. */
  dispose(): void;
}

/**
 * Installs the handlers. `beforeExit` runs on the second signal, just before the process
 * exits (to say what is left behind).
 */
export function watchStopSignals(beforeExit?: (signal: NodeJS.Signals) => void): StopRequest {
  let requested = false;
  let resolve!: (reason: string) => void;
  const promise = new Promise<string>((done) => (resolve = done));
  const stop = (reason: string) => {
    if (requested) return;
    requested = true;
    resolve(reason);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (requested) {
      beforeExit?.(signal);
      process.exit(SIGNAL_EXIT_CODES[signal] ?? 1);
    }
    stop(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    requested: promise,
    stop,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
