/**
 * How long-running commands (subscribe, serve, dev, bridge) are stopped: the first SIGINT
 * (Ctrl-C), SIGTERM or SIGHUP asks them to finish gracefully; a second one exits at once,
 * with 128 + the signal's number (130, 143, 129), as `errand worker` does.
 *
 * Run by npm (`npm start`, `npm run ...`), a repeat of the same signal within
 * REPEAT_WINDOW_MS is not a second request: one Ctrl-C reaches the process twice there,
 * from the terminal (to the whole process group) and forwarded by npm. Taking that as "exit
 * now" would skip the shutdown and leave a private redis-server behind. Run directly, every
 * repeat counts, however quick.
 *
 * Under npm, the command also stops when npm goes away: killed with SIGKILL, npm forwards
 * nothing, and the command must not outlive it. npm runs scripts through a shell (`sh -c`),
 * which stays while the command runs, so npm is the parent's parent: both are watched
 * (the grandparent through /proc, where there is one).
 */
import { readFileSync } from 'node:fs';

export const SIGNAL_EXIT_CODES: Readonly<Record<string, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** Under npm, a repeat of the first signal sooner than this is the same request, delivered twice. */
const REPEAT_WINDOW_MS = 500;
/** How often a command run by npm checks that npm is still there. */
const PARENT_CHECK_MS = 500;
/** The stop reason when the parent process went away. */
export const PARENT_GONE = 'parent process exited';

export interface StopRequest {
  /** Resolves with the first signal's name, or the reason given to `stop`. */
  readonly requested: Promise<string>;
  /** Asks to stop without a signal (e.g. stdout was closed). */
  stop(reason: string): void;
  /** Removes the signal handlers. */
  dispose(): void;
}

export interface StopOptions {
  /** Runs on the second signal, just before the process exits (to say what is left behind). */
  beforeExit?: (signal: NodeJS.Signals) => void;
  /**
   * Run by npm (npm start, npm run ...): stop when npm goes away, and take a signal that npm
   * forwards as the one the terminal sent. Default: whether npm_lifecycle_event is set.
   */
  underNpm?: boolean;
}

/** Installs the handlers. */
export function watchStopSignals({ beforeExit, underNpm = process.env.npm_lifecycle_event !== undefined }: StopOptions = {}): StopRequest {
  let first: { reason: string; at: number } | undefined;
  let resolve!: (reason: string) => void;
  const promise = new Promise<string>((done) => (resolve = done));
  const stop = (reason: string) => {
    if (first) return;
    first = { reason, at: Date.now() };
    resolve(reason);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (first) {
      if (underNpm && signal === first.reason && Date.now() - first.at < REPEAT_WINDOW_MS) return;
      beforeExit?.(signal);
      process.exit(SIGNAL_EXIT_CODES[signal] ?? 1);
    }
    stop(signal);
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  const parent = process.ppid;
  const grandparent = parentOf(parent);
  const parentCheck = underNpm
    ? setInterval(() => {
        if (process.ppid !== parent || (grandparent !== undefined && !alive(grandparent))) stop(PARENT_GONE);
      }, PARENT_CHECK_MS).unref()
    : undefined;
  return {
    requested: promise,
    stop,
    dispose() {
      for (const signal of SIGNALS) process.off(signal, onSignal);
      clearInterval(parentCheck);
    },
  };
}

/** The exit code of a command stopped for `reason`: 128 + the signal's number, else 0. */
export function stopExitCode(reason: string): number {
  if (reason === PARENT_GONE) return 1;
  return SIGNAL_EXIT_CODES[reason] ?? 0;
}

/** The parent of a process, from /proc (Linux); undefined elsewhere or for init. */
function parentOf(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (command) state ppid ...": the command may hold spaces and ")".
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) && ppid > 1 ? ppid : undefined;
  } catch {
    return undefined; // no /proc: the parent alone is watched
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // there, but not ours to signal
  }
}
