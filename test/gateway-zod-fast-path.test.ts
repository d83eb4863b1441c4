import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fastPath } from '../src/gateway/zod-fast-path.js';

/** What the gateway's validator does: the shortcut, else zod (learning from its verdict). */
function validator(schema: z.ZodType) {
  const fast = fastPath(schema);
  return (data: unknown) => {
    const accepted = fast?.accept(data);
    if (accepted !== undefined) return { fast: true, value: accepted };
    const parsed = schema.safeParse(data);
    if (parsed.success) fast?.remember(data, parsed.data);
    return { fast: false, value: parsed.success ? parsed.data : 'refused' };
  };
}

describe('the validation shortcut answers as zod would, or leaves the input to zod', () => {
  it('takes a payload alone, and leaves absent required fields, unknown keys and checked fields to zod', () => {
    const check = validator(z.object({ payload: z.unknown(), priority: z.number().int().optional() }).strict());
    expect(check({ payload: { a: 1 } })).toEqual({ fast: true, value: { payload: { a: 1 } } });
    expect(check({})).toEqual({ fast: false, value: 'refused' });
    expect(check({ payload: 1, extra: 2 })).toEqual({ fast: false, value: 'refused' });
    expect(check({ payload: 1, priority: 1.5 })).toEqual({ fast: false, value: 'refused' });
    expect(check([1])).toEqual({ fast: false, value: 'refused' });
  });

  it('remembers only strings zod accepted unchanged', () => {
    const check = validator(z.object({ name: z.string().regex(/^[a-z]+$/), tag: z.string().trim() }).strict());
    expect(check({ name: 'q', tag: 't' }).fast).toBe(false);
    expect(check({ name: 'q', tag: 't' })).toEqual({ fast: true, value: { name: 'q', tag: 't' } });
    expect(check({ name: 'q', tag: ' t ' })).toEqual({ fast: false, value: { name: 'q', tag: 't' } });
    expect(check({ name: 'q', tag: ' t ' }).fast).toBe(false); // trimmed: never taken as it is
    expect(check({ name: 'Q!', tag: 't' })).toEqual({ fast: false, value: 'refused' });
  });

  it('never skips a default, and has no shortcut for a schema with checks of its own', () => {
    const withDefault = validator(z.object({ payload: z.unknown(), attempts: z.number().default(3) }).strict());
    expect(withDefault({ payload: 1 })).toEqual({ fast: false, value: { payload: 1, attempts: 3 } });
    const refined = z.object({ payload: z.unknown() }).refine((value) => value.payload !== 0, 'no zero');
    expect(fastPath(refined)).toBeUndefined();
    expect(fastPath(z.string())).toBeUndefined();
  });
});
