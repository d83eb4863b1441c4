import { describe, expect, it } from 'vitest';
import { Topic, type TopicMessageMeta } from '../src/index.js';
import { Child } from './support/child.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

describe('a topic member killed with SIGKILL', () => {
  it('has the messages it held taken over and handled by a live member', async () => {
    const s = scope();
    const topic = s.add(new Topic<number>('orders', { connection: redis.url, prefix: s.prefix }));
    const child = s.add(new Child('topic-member.ts', [redis.url, s.prefix, 'orders', 'billing', '5']));
    await child.line((line) => line === 'ready');
    const ids = await topic.publishMany(Array.from({ length: 20 }, (_, n) => n));
    let got = 0;
    await child.line((line) => line.startsWith('got ') && ++got === 5); // its concurrency is 5
    await child.kill();
    const held = child.lines.filter((line) => line.startsWith('got ')).map((line) => line.slice(4));
    expect(held).toHaveLength(5);
    expect((await topic.info()).groups[0]).toMatchObject({ name: 'billing', pending: 5 });

    const handled = new Map<string, number[]>();
    const survivor = topic.subscribe(
      'billing',
      (_n, meta: TopicMessageMeta) => {
        handled.set(meta.id, [...(handled.get(meta.id) ?? []), meta.attempt]);
      },
      { leaseMs: 300, concurrency: 4 },
    );
    survivor.on('error', (error) => s.errors.push(error));
    s.add({ close: () => survivor.close({ timeoutMs: 2_000 }) });
    await new Promise<void>((resolve) => {
      let completed = 0;
      survivor.on('completed', () => ++completed === 20 && resolve());
    });
    expect([...handled.keys()].sort()).toEqual([...ids].sort());
    for (const id of ids) {
      // Once each; the killed member's messages on their second delivery.
      expect(handled.get(id)).toEqual([held.includes(id) ? 2 : 1]);
    }
    expect((await topic.info()).groups[0]).toMatchObject({ pending: 0, lag: 0 });
    expect(await topic.deadLetters()).toEqual([]);
  });
});
