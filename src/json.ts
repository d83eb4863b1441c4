/**
 * Strict JSON encoding for everything users hand to Redis (payloads, results, messages).
 * JSON.stringify drops functions and undefined and turns NaN into null without a word;
 * here such values are errors that name where they were, so what a worker reads back is
 * what the producer wrote.
 */
import { PayloadTooLargeError, ValidationError } from './errors.js';

/**
 * One value to look at: its key under its parent. The path of a value is built only for an
 * error message, from these links, so checking costs one step per value whatever the depth
 * (a deep and wide value must not cost depth × width).
 */
interface Visit {
  value: unknown;
  parent: Visit | undefined;
  key: string;
  /** Leaving an object: it stops being an ancestor (cycles are ancestors met again). */
  leave?: true;
}

function describePath(visit: Visit): string {
  const keys: string[] = [];
  for (let at: Visit | undefined = visit; at?.parent; at = at.parent) keys.push(at.key);
  return keys.length ? keys.reverse().join('.') : '(top level)';
}

function check(root: unknown): void {
  const stack: Visit[] = [{ value: root, parent: undefined, key: '' }];
  const ancestors = new Set<object>();
  while (stack.length) {
    const visit = stack.pop()!;
    const { value } = visit;
    if (visit.leave) {
      ancestors.delete(value as object);
      continue;
    }
    switch (typeof value) {
      case 'string':
      case 'boolean':
        continue;
      case 'number':
        if (!Number.isFinite(value)) throw new Error(`${describePath(visit)} is ${value}, which JSON cannot hold`);
        continue;
      case 'undefined':
        if (!visit.parent) throw new Error('the value is undefined');
        continue; // an undefined property is simply absent in JSON, as users expect
      case 'object': {
        if (value === null) continue;
        if (ancestors.has(value)) throw new Error(`${describePath(visit)} refers back to itself (a cycle)`);
        const toJSON = (value as { toJSON?: unknown }).toJSON;
        if (typeof toJSON === 'function') continue; // Date and friends define their own JSON
        if (value instanceof Map || value instanceof Set) {
          throw new Error(`${describePath(visit)} is a ${value.constructor.name}, which JSON turns into {}: convert it to an array or object`);
        }
        ancestors.add(value);
        stack.push({ value, parent: visit.parent, key: visit.key, leave: true });
        if (Array.isArray(value)) {
          for (let index = value.length - 1; index >= 0; index--) {
            const item: unknown = value[index];
            const child: Visit = { value: item, parent: visit, key: String(index) };
            if (item === undefined) throw new Error(`${describePath(child)} is undefined`);
            stack.push(child);
          }
        } else {
          const entries = Object.entries(value);
          for (let index = entries.length - 1; index >= 0; index--) {
            const [key, item] = entries[index]!;
            stack.push({ value: item, parent: visit, key });
          }
        }
        continue;
      }
      default:
        throw new Error(`${describePath(visit)} is a ${typeof value}, which JSON cannot hold`);
    }
  }
}

/**
 * Encodes `value` as JSON, or throws ValidationError (not serializable) or
 * PayloadTooLargeError (over `limitBytes` UTF-8 bytes). `what` names it in messages.
 */
export function encodeJson(value: unknown, what: string, limitBytes: number): string {
  try {
    check(value);
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
