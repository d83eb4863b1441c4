// The example of docs/testing.md, kept identical to it by test/doc-snippets.test.ts.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Queue } from 'errand';
import { runUntilIdle, startRedis, testPrefix, type TestRedis } from 'errand/testing';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis(); // a throwaway redis-server on a free port
});
afterAll(() => redis.stop());

it('sends a welcome email to each new user', async () => {
  const prefix = testPrefix(); // this test's own keys
  const queue = new Queue<{ to: string }>('emails', { connection: redis.url, prefix });
  await queue.enqueue({ to: 'ada@example.com' });
  await queue.enqueue({ to: 'grace@example.com' });

  const sent: string[] = [];
  const ran = await runUntilIdle({
    connection: redis.url,
    prefix,
    handlers: {
      emails: async (task) => {
        sent.push(task.payload.to);
        return 'sent';
      },
    },
  });

  expect(sent).toEqual(['ada@example.com', 'grace@example.com']);
  expect(ran.map((task) => [task.state, task.result])).toEqual([['completed', 'sent'], ['completed', 'sent']]);
  await queue.close();
});
