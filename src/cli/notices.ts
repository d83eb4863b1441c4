/**
 * Lines for people on stderr from commands that run until stopped (subscribe, ...): that
 * they are ready, and what went wrong on the way without stopping them. With `--json`
 * each is a JSON line (`{"notice":...}`, `{"warning":...}`), so every stderr line a script
 * sees under --json parses, as errors do.
 */
import type { CliContext } from './context.js';

export function notice(cli: CliContext, text: string): void {
  process.stderr.write(cli.json ? `${JSON.stringify({ notice: text })}\n` : `${text}\n`);
}

export function warning(cli: CliContext, text: string): void {
  process.stderr.write(cli.json ? `${JSON.stringify({ warning: text })}\n` : `errand: warning: ${text}\n`);
}

/** Writes to stdout; resolves once the line was handed to the system, rejects if it could not be. */
export function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (error) => (error ? reject(error) : resolve()));
  });
}
