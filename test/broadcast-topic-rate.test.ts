/**
 * A topic's messages published per minute (Topic.throughput): counted by the publish
 * script in per-hour hashes on the Redis clock, in whole batches, and read back as a
 * series ending at the current minute.
 */
import { describe, expect, it } from 'vitest';
import { Topic, ValidationError } from '../src/index.js';
import { useRedis, useScope, type TestScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);

function topicOf(s: TestScope, name: string): Topic {
  return s.add(new Topic(name, { connection: redis.url, prefix: s.prefix }));
}

async function redisMinute(s: TestScope): Promise<number> {
  const [seconds, micros] = await s.client().time();
  return Math.floor((Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)) / 60_000);
}

describe('Topic.throughput', () => {
  it('counts every published message in the minute it was published, batches and chunks included', async () => {
    const s = scope();
    const topic = topicOf(s, 'orders');
    const before = await redisMinute(s);
    await topic.publish({ n: 1 });
    await topic.publishMany([2, 3, 4]);
    await topic.publishMany(Array.from({ length: 2_500 }, (_, i) => i)); // three script calls
    const after = await redisMinute(s);

    const points = await topic.throughput({ minutes: 60 });
    expect(points).toHaveLength(60);
    expect(points.map((p) => p.minute)).toEqual(Array.from({ length: 60 }, (_, i) => points[0]!.minute + i));
    const last = points.at(-1)!.minute;
    expect(last).toBeGreaterThanOrEqual(after);
    const counted = points.filter((p) => p.published > 0);
    for (const point of counted) expect(point.minute).toBeGreaterThanOrEqual(before);
    expect(counted.reduce((sum, p) => sum + p.published, 0)).toBe(2_504);
    expect((await topic.info()).published).toBe(2_504);

    // One hash per hour, expiring a day after it.
    const ttl = await s.client().pttl(`${s.prefix}:topic:{orders}:stats:${Math.floor(counted[0]!.minute / 60)}`);
    expect(ttl).toBeGreaterThan(24 * 3_600_000);
    expect(ttl).toBeLessThanOrEqual(25 * 3_600_000);
  });

  it('keeps each topic apart, is all zeros for a topic never used, and checks its argument', async () => {
    const s = scope();
    const used = topicOf(s, 'used');
    const unused = topicOf(s, 'unused');
    await used.publishMany([1, 2]);
    expect((await unused.throughput({ minutes: 5 })).map((p) => p.published)).toEqual([0, 0, 0, 0, 0]);
    expect((await used.throughput({ minutes: 1440 })).reduce((sum, p) => sum + p.published, 0)).toBe(2);
    for (const minutes of [0, 1441, 1.5, Number.NaN]) {
      await expect(used.throughput({ minutes })).rejects.toThrow(ValidationError);
    }
    expect(await s.client().keys(`${s.prefix}:topic:{unused}:*`)).toEqual([]);
  });
});
