/**
 * A shortcut past zod for the requests every busy gateway sees: an object schema's answer
 * to an input made only of values it has already accepted as they are. Zod checks every
 * field of an object schema on every request (a dozen absent task options per enqueue);
 * most requests carry a queue name seen before, no query, and a body of `payload` alone.
 *
 * `fastAccept(schema)` looks at an object schema once and returns a check that, for an
 * input it can vouch for, returns that input (zod would return an equal copy), and
 * undefined otherwise, so the caller runs zod as before: every refusal, every message,
 * every default and transform stays zod's. It vouches for an input when every key is in
 * the schema's shape and each value is
 * - anything, under a field typed `unknown`/`any` without checks (zod passes it through);
 * - a string zod has already accepted unchanged for that `string` field (`remember`),
 * and every field left out is optional both ways (zod then adds nothing in its place; a
 * field with a default, or one like `payload` that must be present, is required here).
 * Schemas with checks of their own, or any other shape, get no shortcut.
 */
import type { z } from 'zod';

/** Strings remembered per field of a route, at most (as many as the Queue objects a gateway keeps); then the memory starts over. */
const MAX_REMEMBERED = 1_000;

interface FieldDef {
  type: string;
  checks?: unknown[];
}

export interface FastPath {
  /** The input itself when it is sure to pass unchanged, else undefined. */
  accept(data: unknown): unknown;
  /** Learns from zod's verdict on an input: the string fields it accepted unchanged. */
  remember(data: unknown, parsed: unknown): void;
}

const defOf = (schema: unknown) => (schema as { _zod: { def: FieldDef & { shape?: Record<string, z.ZodType> } } })._zod.def;

/** The shortcut for an object schema, or undefined when there is none to take. */
export function fastPath(schema: z.ZodType): FastPath | undefined {
  const def = defOf(schema);
  if (def.type !== 'object' || !def.shape || def.checks?.length) return undefined;
  const shape = def.shape;
  const passThrough = new Set<string>();
  const strings = new Map<string, Set<string>>();
  const required: string[] = [];
  for (const [key, field] of Object.entries(shape)) {
    const fieldDef = defOf(field);
    if ((fieldDef.type === 'unknown' || fieldDef.type === 'any') && !fieldDef.checks?.length) passThrough.add(key);
    else if (fieldDef.type === 'string') strings.set(key, new Set());
    // Zod lets a key be absent, adding nothing in its place, only when it is optional both ways.
    const { optin, optout } = (field as unknown as { _zod: { optin?: string; optout?: string } })._zod;
    if (optin !== 'optional' || optout !== 'optional') required.push(key);
  }
  return {
    accept(data) {
      if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
      const record = data as Record<string, unknown>;
      for (const key of required) if (!Object.hasOwn(record, key)) return undefined;
      for (const key in record) {
        if (!Object.hasOwn(record, key)) return undefined;
        if (passThrough.has(key)) continue;
        const value = record[key];
        if (typeof value !== 'string' || !strings.get(key)?.has(value)) return undefined;
      }
      return data;
    },
    remember(data, parsed) {
      if (typeof data !== 'object' || data === null || typeof parsed !== 'object' || parsed === null) return;
      for (const [key, known] of strings) {
        const value = (data as Record<string, unknown>)[key];
        if (typeof value !== 'string' || (parsed as Record<string, unknown>)[key] !== value) continue;
        if (known.size >= MAX_REMEMBERED) known.clear();
        known.add(value);
      }
    },
  };
}
