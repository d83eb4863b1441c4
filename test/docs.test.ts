/**
 * Keeps the documentation in step with the code: the Redis layout doc with keys.ts, the
 * errors doc with the error registry.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';
import { errorCodes } from '../src/errors.js';
import { GLOBAL_KEY_ROLES, QUEUE_KEY_ROLES, STATE_CODES, TASK_FIELDS, TOPIC_KEY_ROLES } from '../src/redis/keys.js';
import { GATEWAY_KEY_ROLES } from '../src/redis/keys.js';

function section(doc: string, heading: string): string {
  const start = doc.indexOf(`## ${heading}\n`);
  if (start < 0) throw new Error(`section "${heading}" is missing`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

/** The first two columns of every table row whose first cell is `code`. */
function rows(text: string): [string, string][] {
  return [...text.matchAll(/^\| `([^`]+)` \| `?([^|`]+?)`? \|/gm)].map((m) => [m[1]!, m[2]!]);
}

describe('docs/redis-layout.md', () => {
  const doc = readFileSync(new URL('../docs/redis-layout.md', import.meta.url), 'utf8');

  it('lists every queue key with its type, and nothing else', () => {
    expect(Object.fromEntries(rows(section(doc, 'Queue keys')))).toEqual(QUEUE_KEY_ROLES);
  });

  it('lists every global key', () => {
    expect(Object.fromEntries(rows(section(doc, 'Global keys')))).toEqual(GLOBAL_KEY_ROLES);
  });

  it("lists every key of the gateway's auth state", () => {
    expect(Object.fromEntries(rows(section(doc, 'Gateway keys')))).toEqual(GATEWAY_KEY_ROLES);
  });

  it('lists every topic key with its type', () => {
    expect(Object.fromEntries(rows(section(doc, 'Topic keys')))).toEqual(TOPIC_KEY_ROLES);
  });

  it('lists every task state with its stored code', () => {
    expect(Object.fromEntries(rows(section(doc, 'Task states')))).toEqual(STATE_CODES);
  });

  it('lists every task field with its stored name', () => {
    expect(Object.fromEntries(rows(section(doc, 'Task hash fields')))).toEqual(TASK_FIELDS);
  });
});

describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

  it('lists every error code with its HTTP status and class', () => {
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \| `(\w+)` \|/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
    expect(Object.fromEntries(documented.map(([code, status]) => [code, status]))).toEqual(errorCodes);
    for (const [code, , className] of documented) {
      const ErrorClass = (api as Record<string, unknown>)[className as string] as { prototype: unknown } | undefined;
      expect(ErrorClass, `${className} is exported`).toBeDefined();
      expect(ErrorClass!.prototype).toBeInstanceOf(api.ErrandError);
      expect(code).toMatch(/^[A-Z_]+$/);
    }
  });

  it('lists the handler signals', () => {
    for (const name of ['UnrecoverableError', 'RetryAfterError', 'RateLimitedError']) expect(doc).toContain(`| \`${name}\` |`);
  });
});
