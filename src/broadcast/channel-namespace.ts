/**
 * The one channel rule that is about Errand rather than names: raw channels stay out of
 * Errand's own namespace, `<prefix>:` (its internal queue events travel there), except
 * Errand's channels themselves, `<prefix>:ch:`. For patterns this takes deciding whether
 * a Redis glob can match some name under the prefix (`globCanMatchPrefix`).
 */
import { ValidationError } from '../errors.js';
import { isPattern } from './options.js';

/**
 * Whether a Redis glob pattern (PSUBSCRIBE's: `*`, `?`, `[...]` with `^` and ranges, `\`
 * escapes) can match some name that starts with `start`: it is run over `start` as a set of
 * positions in the pattern, and any position left alive can go on to match some suffix.
 */
export function globCanMatchPrefix(pattern: string, start: string): boolean {
  /** The positions reachable from `i` without reading: a `*` may match nothing. */
  const close = (positions: Set<number>) => {
    for (const i of positions) if (pattern[i] === '*') positions.add(i + 1);
    return positions;
  };
  let alive = close(new Set([0]));
  for (const char of start) {
    const next = new Set<number>();
    for (const i of alive) {
      if (i >= pattern.length) continue;
      const token = pattern[i]!;
      if (token === '*') next.add(i);
      else if (token === '?') next.add(i + 1);
      else if (token === '\\') {
        if (pattern[i + 1] === char) next.add(i + 2);
      } else if (token === '[') {
        const end = pattern.indexOf(']', i + 2);
        if (end < 0) {
          if (char === '[') next.add(i + 1); // an unclosed bracket: Redis reads the rest as the class; be strict
          continue;
        }
        if (classMatches(pattern.slice(i + 1, end), char)) next.add(end + 1);
      } else if (token === char) next.add(i + 1);
    }
    alive = close(next);
    if (alive.size === 0) return false;
  }
  return true;
}

function classMatches(body: string, char: string): boolean {
  const negated = body.startsWith('^');
  const items = negated ? body.slice(1) : body;
  let found = false;
  for (let i = 0; i < items.length; i++) {
    let low = items[i]!;
    if (low === '\\' && i + 1 < items.length) low = items[++i]!;
    if (items[i + 1] === '-' && i + 2 < items.length) {
      const high = items[i + 2]!;
      i += 2;
      if ((char >= low && char <= high) || (char >= high && char <= low)) found = true;
    } else if (char === low) found = true;
  }
  return negated ? !found : found;
}

/**
 * Refuses a raw channel (or a raw pattern that could match one) in Errand's own namespace,
 * `<prefix>:`: queue events there settle result waiters and drive task watches, so nothing
 * but Errand's scripts may publish there, and what they carry is not for channel
 * subscribers. The Errand channels themselves (`<prefix>:ch:<name>`) stay open to raw
 * clients: a pattern may reach them if its first part names them literally.
 */
export function assertOutsideNamespace(name: string, prefix: string, pattern: boolean): void {
  const namespace = `${prefix}:`;
  const channels = `${prefix}:ch:`;
  const globbed = pattern && isPattern(name);
  const inside = globbed
    ? globCanMatchPrefix(name, namespace) && !name.startsWith(channels) // the prefix holds no glob characters
    : name.startsWith(namespace) && !name.startsWith(channels);
  if (inside) {
    throw new ValidationError(
      `raw channel ${pattern && isPattern(name) ? 'pattern ' : ''}${JSON.stringify(name)} reaches into Errand's own namespace "${namespace}" ` +
        '(its internal queue events): choose a name outside it, narrow the pattern, or drop raw for an Errand JSON channel',
    );
  }
}
