// `errand bridge <list> <queue>` beside `errand serve`: items a legacy producer LPUSHes
// (redis-cli here, as the seed's Flask producer) become tasks the gateway serves; the
// bridge checks Redis and the list before anything moves, and stops in order on SIGTERM.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { oneLine, useCli, type CliProcess } from './support/cli.js';
import { useRedis, useScope } from './support/fixtures.js';
import { freePort } from './support/redis-server.js';

const redis = useRedis();
const scope = useScope(redis);
const cli = useCli(() => ({ url: redis.url, prefix: scope().prefix }));

function logged(process: CliProcess, pattern: RegExp): Promise<void> {
  return process.waitFor(() => process.records.some((record) => pattern.test(String(record.msg))), `a log line matching ${pattern}`);
}

describe('errand bridge', () => {
  it('moves LPUSHed items into the queue, beside a gateway that serves them', async () => {
    const list = `${scope().prefix}-legacy`;
    const port = await freePort();
    const serve = cli.start(['serve', '--port', String(port)]);
    const bridge = cli.start(['bridge', list, 'jobs']);
    await logged(serve, /^Errand gateway is ready/);
    await logged(bridge, /^bridge started: items LPUSHed to ".*" become tasks of queue "jobs"$/);

    execFileSync('redis-cli', ['-p', String(redis.server.port), 'LPUSH', list, '7', '8']);
    await logged(bridge, /^moved \d item\(s\) into the queue$/);
    await bridge.waitFor(() => bridge.records.reduce((sum, record) => sum + (Number(record.count) || 0), 0) === 2, 'both items moved');

    const reply = await fetch(`http://127.0.0.1:${port}/v1/queues/jobs/tasks?state=waiting`);
    const { tasks } = (await reply.json()) as { tasks: { payload: unknown }[] };
    expect(tasks.map((task) => task.payload)).toEqual(['7', '8']); // next to run first: the oldest item
    expect(execFileSync('redis-cli', ['-p', String(redis.server.port), 'LLEN', list]).toString().trim()).toBe('0');

    bridge.kill('SIGTERM');
    const result = await bridge.exited;
    expect(result.code, result.stderr).toBe(0);
    expect(bridge.records.at(-1)?.msg).toBe('closed');
    serve.kill('SIGTERM');
    expect((await serve.exited).code).toBe(143);
  });

  it('refuses a key that is not a list, before anything moves (exit 2)', async () => {
    const key = `${scope().prefix}-string`;
    execFileSync('redis-cli', ['-p', String(redis.server.port), 'SET', key, 'x']);
    const result = await cli.run(['bridge', key, 'jobs']);
    expect(result.code).toBe(2);
    expect(oneLine(result, { anyStdout: true })).toBe(`errand: key "${key}" holds a string, not a list: name the list your producers LPUSH into`);
  });

  it('says when Redis does not answer (exit 1)', async () => {
    const port = await freePort();
    const result = await cli.run(['bridge', 'task:prodcons:queue', 'demo'], { env: { REDIS_URL: `redis://127.0.0.1:${port}/5` } });
    expect(result.code).toBe(1);
    expect(oneLine(result)).toMatch(new RegExp(`^errand: cannot reach Redis at redis://127\\.0\\.0\\.1:${port}/5 \\(connect ECONNREFUSED`));
  });
});
