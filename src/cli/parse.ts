/**
 * Parsers for command-line values. Flag parsers throw commander's InvalidArgumentError,
 * which commander reports naming the flag; the others throw ValidationError. Both are
 * usage errors (exit code 2).
 */
import { InvalidArgumentError } from 'commander';
import { isStreamId, validateChannel } from '../broadcast/options.js';
import { ValidationError, type TopicStart } from '../index.js';

/** A whole number within [min, max], e.g. `--concurrency 10`. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number < min || number > max) {
      throw new InvalidArgumentError(`Use a whole number from ${min} to ${max}.`);
    }
    return number;
  };
}

/** A JSON document given as an argument, e.g. a payload. */
export function parseJsonArgument(what: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ValidationError(
      `${what} is not valid JSON (${(error as Error).message}): quote it for the shell, e.g. '{"to":"ada@example.com"}' or '"a string"'.`,
    );
  }
}

/**
 * A channel name or pattern, checked before anything reaches Redis. An Errand name that
 * is not one (`task:pubsub:channel`) is most likely another program's channel: say --raw.
 */
export function channelArgument(name: string, { raw, pattern }: { raw: boolean; pattern: boolean }): string {
  try {
    return validateChannel(name, { raw, pattern });
  } catch (error) {
    // A pattern to publish to is not a naming slip that --raw would fix: its message says what to do.
    if (raw || !(error instanceof ValidationError) || !error.message.startsWith('invalid channel name')) throw error;
    throw new ValidationError(`${error.message}; or, for an exact Redis channel name (as redis-cli and other clients use it), add --raw`);
  }
}

/** `--from`: new, earliest, a message id, or an ISO 8601 time. */
export function topicStart(value: string): TopicStart {
  if (value === 'new' || value === 'earliest' || isStreamId(value)) return value;
  const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new InvalidArgumentError('Use new, earliest, a message id like 1700000000000-0, or an ISO 8601 time like 2025-01-07T12:00:00Z.');
  }
  return new Date(ms);
}
