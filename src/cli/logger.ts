/**
 * The worker's log: pino, one JSON object per line when stdout is a file or a pipe (for
 * log shippers and scripts), human-readable lines when it is a terminal. Writes are
 * synchronous, so a forced exit loses no line.
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

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
    return pino({ level }, stream);
  }
  return pino({ level }, pino.destination({ dest: 1, sync: true }));
}
