import { describe, expect, it } from 'vitest';
import { Admin } from '../src/admin/admin.js';
import { ValidationError } from '../src/errors.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

function admin(prefix: string): Admin {
  return scope().add(new Admin({ connection: redis.url, prefix }));
}

describe('Admin.search', () => {
  it('finds payload text in any state, ignoring case, in JSON, string values and keys', async () => {
    const s = scope();
    const queue = s.queue('mail');
    const [plain, quoted, keyed, done] = await queue.enqueueMany([
      { payload: { to: 'Ada@Example.com' } },
      { payload: { note: 'say "hello world" twice' } },
      { payload: { 'X-Trace': 1 } },
      { payload: ['ada@example.com'] },
    ]);
    await queue.cancel(done!.id);
    const a = admin(s.prefix);
    const ids = async (text: string) => (await a.search('mail', { text })).matches.map((task) => task.id).sort();
    expect(await ids('ada@EXAMPLE')).toEqual([plain!.id, done!.id].sort()); // waiting and cancelled
    expect(await ids('"hello world"')).toEqual([quoted!.id]); // the raw string, not JSON's \"escaped\" form
    expect(await ids('x-trace')).toEqual([keyed!.id]);
    expect(await ids('{"to":')).toEqual([plain!.id]); // the JSON text too
    expect(await ids('nobody')).toEqual([]);
  });

  it('finds a task by its id, and reads no more tasks than its limit', async () => {
    const s = scope();
    const queue = s.queue('bulk');
    const tasks = await queue.enqueueMany(Array.from({ length: 1200 }, (_, i) => ({ payload: { n: i, tag: i % 2 ? 'odd' : 'even' } })));
    const a = admin(s.prefix);

    const byId = await a.search('bulk', { text: tasks[5]!.id });
    expect(byId.byId?.id).toBe(tasks[5]!.id);

    const all = await a.search('bulk', { text: 'even', maxMatches: 1000 });
    expect(all).toMatchObject({ scanned: 1200, stoppedBy: 'end' });
    expect(all.matches).toHaveLength(600);

    const bounded = await a.search('bulk', { text: 'odd', scanLimit: 700 });
    expect(bounded).toMatchObject({ scanned: 500, stoppedBy: 'maxMatches' }); // 100 matches by default, reached in the first page
    expect(bounded.matches).toHaveLength(100);
    const few = await a.search('bulk', { text: 'odd', scanLimit: 150, maxMatches: 1000 });
    expect(few).toMatchObject({ scanned: 150, stoppedBy: 'scanLimit' });
    expect(few.matches).toHaveLength(75);

    const capped = await a.search('bulk', { text: 'odd', maxMatches: 10 });
    expect(capped.stoppedBy).toBe('maxMatches');
    expect(capped.matches).toHaveLength(10);
  });

  it('rejects empty or overlong text and bad limits', async () => {
    const a = admin(scope().prefix);
    await expect(a.search('q', { text: '' })).rejects.toBeInstanceOf(ValidationError);
    await expect(a.search('q', { text: 'x'.repeat(501) })).rejects.toThrow(/1-500 characters/);
    await expect(a.search('q', { text: 'x', scanLimit: 0 })).rejects.toThrow(/scanLimit must be a whole number from 1 to 100000/);
    await expect(a.search('bad name', { text: 'x' })).rejects.toBeInstanceOf(ValidationError);
  });
});
