/**
 * A failure only the command line has (a port in use, a benchmark that cannot run here),
 * with its own code for `--json` and its exit code. main.ts prints its message as is: it
 * already says what is wrong and how to fix it, so no `--debug` hint is added.
 */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: 1 | 2 = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}
