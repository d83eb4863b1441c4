/**
 * The log of the commands that run until stopped (worker, serve, dev, bridge): pino, one
 * JSON object per line when stdout is a file or a pipe (for log shippers and scripts),
 * human-readable lines when it is a terminal. Writes are synchronous, so a forced exit
 * loses no line.
 *
 * Readable lines come from pino-pretty, an optional peer dependency loaded only for a
 * terminal (it brings a dozen packages a library user does not need); without it, a
 * terminal gets the JSON lines and one notice saying how to install it.
 */
import { pino, type Logger } from 'pino';
import { ValidationError } from '../index.js';
import { redactError } from '../redis/redact.js';

/** Logged errors never carry a Redis command's arguments (a failed AUTH's are the password). */
const serializers = { err: (error: unknown) => pino.stdSerializers.err(redactError(error) as Error) };

/** The level from $ERRAND_LOG_LEVEL (default info), checked. */
export function logLevelFromEnv(): string {
  const level = process.env.ERRAND_LOG_LEVEL || 'info';
  if (!(level in pino.levels.values) && level !== 'silent') {
    throw new ValidationError(`ERRAND_LOG_LEVEL ${JSON.stringify(level)} is not a level: use ${Object.keys(pino.levels.values).join(', ')} or silent`);
  }
  return level;
}

export async function createLogger(level = process.env.ERRAND_LOG_LEVEL || 'info'): Promise<Logger> {
  if (process.stdout.isTTY) {
    const pretty = await loadPretty();
    if (pretty) {
      const stream = pretty({
        colorize: true,
        singleLine: true,
        translateTime: 'SYS:HH:MM:ss.l',
        messageFormat: '{if queue}{queue} {end}{if task}task {task} {end}{msg}',
        ignore: 'pid,hostname,queue,task',
        sync: true,
      });
      return pino({ level, serializers }, stream);
    }
    process.stderr.write('errand: logging JSON lines; for readable ones on a terminal: npm install pino-pretty\n');
  }
  return pino({ level, serializers }, pino.destination({ dest: 1, sync: true }));
}

type Pretty = typeof import('pino-pretty');

async function loadPretty(): Promise<Pretty | undefined> {
  try {
    return ((await import('pino-pretty')) as { default: Pretty }).default;
  } catch (error) {
    // Not installed: a readable log is a convenience, JSON lines carry the same.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}
