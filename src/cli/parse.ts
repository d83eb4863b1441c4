/**
 * Parsers for command-line values. Flag parsers throw commander's InvalidArgumentError,
 * which commander reports naming the flag; the others throw ValidationError. Both are
 * usage errors (exit code 2).
 */
import { InvalidArgumentError } from 'commander';
import { ValidationError } from '../index.js';

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
