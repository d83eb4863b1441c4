/**
 * The `errand` command: the program, its global flags, exit codes and the one error
 * printer. Commands live in ./commands/, one module each, registered in commands/index.ts.
 *
 * Exit codes: 0 done, 1 failed (Redis unreachable, task not found, a waited-for task
 * failed, ...), 2 usage (unknown command or flag, bad value, invalid JSON, a handlers
 * module without handlers: what was asked is malformed, and nothing was done).
 *
 * Every error ends as one line on stderr, `errand: <what is wrong and how to fix it>`
 * (with `--json`, one JSON line `{"error":{"code","message"}}`), and a stack trace only
 * with `--debug`.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ErrandError, RedisUnavailableError, ValidationError } from '../index.js';
import { CliError } from './cli-error.js';
import { commands } from './commands/index.js';
import { CliContext } from './context.js';

const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Commander's codes for output that is not an error. */
const NOT_ERRORS = new Set(['commander.helpDisplayed', 'commander.version']);

function packageVersion(): string {
  // src/cli/main.ts and dist/cli/main.js both sit two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function buildProgram(): { program: Command; cli: CliContext; usage: UsageNote } {
  const program = new Command('errand');
  const cli = new CliContext(program);
  const usage: UsageNote = {};
  program
    .description('Errand: Redis-backed work queues. Run workers, enqueue tasks, watch and repair queues.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--redis <url>', 'Redis URL (default: $REDIS_URL, else redis://127.0.0.1:6379)')
    .option('--prefix <prefix>', 'key prefix of the queues (default: $ERRAND_PREFIX, else "errand")')
    .option('--json', 'print results as JSON, one document per line')
    .option('--debug', 'print stack traces of errors')
    .option('--unsafe-allow-eviction', "run even when Redis's maxmemory-policy may evict queue keys (tasks may vanish; default: refuse; $ERRAND_UNSAFE_ALLOW_EVICTION=1)")
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .showSuggestionAfterError(true)
    .exitOverride();
  for (const register of commands) register(program, cli);
  // Commander's own messages are kept, not printed: report() prints every error once, and
  // needs to know which command it came from to point at that command's --help.
  for (const command of [program, ...program.commands]) {
    command.configureOutput({
      outputError: (text) => {
        usage.text = text;
        usage.command = command === program ? 'errand' : `errand ${command.name()}`;
      },
    });
  }
  return { program, cli, usage };
}

interface UsageNote {
  text?: string;
  command?: string;
}

async function run(argv: readonly string[]): Promise<number> {
  const { program, cli, usage } = buildProgram();
  let code: number = EXIT.ok;
  try {
    await program.parseAsync([...argv], { from: 'user' });
    code = cli.exitCode;
  } catch (error) {
    code = report(error, cli, usage);
  }
  try {
    await cli.close();
  } catch (error) {
    // Closing only quits connections; a failure there does not change what the command did.
    if (cli.debug) process.stderr.write(`errand: while closing: ${String(error)}\n`);
  }
  return code;
}

/** Prints one error (and its stack with --debug); returns the exit code. */
function report(error: unknown, cli: CliContext, usage: UsageNote): number {
  const { json, debug } = cli;
  let exitCode: number;
  let code: string;
  let message: string;
  if (error instanceof CommanderError) {
    if (NOT_ERRORS.has(error.code)) return EXIT.ok;
    // `errand` alone printed the help on stderr: that is its whole answer. (`errand help
    // <command>` printed it on stdout as asked, and exits 0.)
    if (error.code === 'commander.help') return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    exitCode = EXIT.usage;
    code = 'USAGE';
    const text = (usage.text ?? error.message).trim().replace(/^error: /, '');
    message = `${text} (see: ${usage.command ?? 'errand'} --help)`;
  } else if (error instanceof CliError) {
    exitCode = error.exitCode;
    code = error.code;
    message = error.message;
  } else if (isConnectionFailure(error, cli)) {
    exitCode = EXIT.failure;
    code = 'REDIS_UNAVAILABLE';
    message = cli.describeRedisFailure() ?? (error as Error).message;
  } else if (error instanceof ErrandError) {
    exitCode = error instanceof ValidationError ? EXIT.usage : EXIT.failure;
    code = error.code;
    message = error.message;
  } else {
    exitCode = EXIT.failure;
    code = 'INTERNAL';
    message = error instanceof Error ? error.message : String(error);
    if (!debug) message += ' (run with --debug for the stack trace)';
  }
  message = message.replace(/\s*\n\s*/g, ' ');
  process.stderr.write(json ? `${JSON.stringify({ error: { code, message } })}\n` : `errand: ${message}\n`);
  if (debug && error instanceof Error && !(error instanceof CommanderError)) process.stderr.write(`${stackWithCauses(error)}\n`);
  return exitCode;
}

/**
 * A RedisUnavailableError, or any non-Errand error (ioredis's "Connection is closed.") once
 * the connection has failed: the connection's own error says more than the command's.
 */
function isConnectionFailure(error: unknown, cli: CliContext): boolean {
  if (error instanceof RedisUnavailableError) return true;
  return !(error instanceof ErrandError) && cli.describeRedisFailure() !== undefined;
}

function stackWithCauses(error: Error): string {
  const parts = [error.stack ?? String(error)];
  let cause = error.cause;
  while (cause instanceof Error) {
    parts.push(`Caused by: ${cause.stack ?? String(cause)}`);
    cause = cause.cause;
  }
  return parts.join('\n');
}

process.exitCode = await run(process.argv.slice(2));
