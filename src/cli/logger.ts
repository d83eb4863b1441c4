/**
 * The worker's log: pino, one JSON object per line when stdout is a file or a pipe (for
 * log shippers and scripts), human-readable lines when it is a terminal. Writes are
 * synchronous, so a forced exit loses no line. Used by the commands that run until stopped
 * (worker, serve, dev).
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
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

export function createLogger(level = process.env.ERRAND_LOG_LEVEL || 'info'): Logger {
  if (process.stdout.isTTY) {
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
  return pino({ level, serializers }, pino.destination({ dest: 1, sync: true }));
}
