/**
 * An enqueue accepted before close() (the process's first, while OpenTelemetry's API is
 * still loading) is sent before the connection closes.
 */
import { describe, expect, it } from 'vitest';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

describe('close right after the first enqueue of the process', () => {
  it('sends the enqueue it accepted', async () => {
    const s = scope();
    const queue = s.queue<number>('first');
    const sent = queue.enqueue(1).then(() => 'enqueued', (e: Error) => `${e.name}: ${e.message}`);
    await queue.close();
    const outcome = await sent;
    const reader = s.queue<number>('first');
    const counts = await reader.counts();
    expect(outcome).toBe('enqueued');
    expect(counts.waiting).toBe(1);
  });
});
