/**
 * Strict JSON encoding for everything users hand to Redis (payloads, results, messages).
 * JSON.stringify drops functions and undefined and turns NaN into null without a word;
 * here such values are errors that name where they were, so what a worker reads back is
 * what the producer wrote.
 */
import { PayloadTooLargeError, ValidationError } from './errors.js';

function describePath(path: string[]): string {
  return path.length ? path.join('.') : '(top level)';
}

function check(value: unknown, path: string[], seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`${describePath(path)} is ${value}, which JSON cannot hold`);
      return;
    case 'undefined':
      if (path.length === 0) throw new Error('the value is undefined');
      return; // an undefined property is simply absent in JSON, as users expect
    case 'object': {
      if (value === null) return;
      if (seen.has(value)) throw new Error(`${describePath(path)} refers back to itself (a cycle)`);
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return; // Date and friends define their own JSON
      if (value instanceof Map || value instanceof Set) {
        throw new Error(`${describePath(path)} is a ${value.constructor.name}, which JSON turns into {}: convert it to an array or object`);
      }
      seen.add(value);
      if (Array.isArray(value)) {
        value.forEach((item, index) => {
          if (item === undefined) throw new Error(`${describePath([...path, String(index)])} is undefined`);
          check(item, [...path, String(index)], seen);
        });
      } else {
        for (const [key, item] of Object.entries(value)) check(item, [...path, key], seen);
      }
      seen.delete(value);
      return;
    }
    default:
      throw new Error(`${describePath(path)} is a ${typeof value}, which JSON cannot hold`);
  }
}

/**
 * Encodes `value` as JSON, or throws ValidationError (not serializable) or
 * PayloadTooLargeError (over `limitBytes` UTF-8 bytes). `what` names it in messages.
 */
export function encodeJson(value: unknown, what: string, limitBytes: number): string {
  try {
    check(value, [], new Set());
  } catch (error) {
    throw new ValidationError(`${what} is not JSON-serializable: ${(error as Error).message}`);
  }
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new ValidationError(`${what} is not JSON-serializable: ${(error as Error).message}`, { cause: error });
  }
  // Most values are ASCII, where characters and bytes agree; count bytes only when it matters.
  if (text.length > limitBytes / 3) {
    const bytes = Buffer.byteLength(text);
    if (bytes > limitBytes) throw new PayloadTooLargeError(what, bytes, limitBytes);
  }
  return text;
}
