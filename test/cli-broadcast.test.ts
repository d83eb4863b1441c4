// `errand publish` and `errand subscribe`: live channels (JSON and raw, both ways with
// plain Redis clients), durable topics through a subscriber group (each message printed
// once and acknowledged), signals, and usage errors. Each subscriber is awaited until it
// says it is subscribed; nothing sleeps.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Topic } from '../src/index.js';
import { oneLine, useCli, type CliProcess, type CliResult } from './support/cli.js';
import { useRedis, useScope } from './support/fixtures.js';
import { freePort } from './support/redis-server.js';

const redis = useRedis();
const scope = useScope(redis);
const cli = useCli(() => ({ url: redis.url, prefix: scope().prefix }));
const run = promisify(execFile);

/** Starts `errand subscribe <args>` and resolves once it says it is subscribed. */
async function subscriber(args: string[]): Promise<CliProcess> {
  const sub = cli.start(['subscribe', ...args]);
  await sub.waitFor(() => sub.stderr.includes('subscribed to'), 'it subscribed');
  return sub;
}

async function untilLines(sub: CliProcess, count: number): Promise<string[]> {
  await sub.waitFor(() => sub.lines.length >= count, `${count} lines`);
  return sub.lines;
}

/** Sends SIGTERM and expects a clean exit 0 with no error on stderr. */
async function stop(sub: CliProcess): Promise<CliResult> {
  sub.kill('SIGTERM');
  const result = await sub.exited;
  expect(result.code, result.stderr).toBe(0);
  expect(result.stderr).not.toMatch(/^errand: (?!warning: )/m);
  return result;
}

describe('live channels', () => {
  it('delivers JSON messages from publish to subscribe, with the channel and pattern in --json', async () => {
    const exact = await subscriber(['--json', 'news']);
    const pattern = await subscriber(['news.*']);

    const first = await cli.run(['publish', 'news', '{"title":"hello","n":[1,2]}']);
    expect(first).toMatchObject({ code: 0, stdout: 'delivered to 1 subscriber\n', stderr: '' });
    const second = await cli.run(['publish', '--json', 'news.eu', '"bonjour"']);
    expect(JSON.parse(second.stdout)).toEqual({ channel: 'news.eu', raw: false, receivers: 1, partial: false });

    expect((await untilLines(exact, 1)).map((line) => JSON.parse(line))).toEqual([{ channel: 'news', message: { title: 'hello', n: [1, 2] } }]);
    expect(await untilLines(pattern, 1)).toEqual(['news.eu: "bonjour"']);
    expect(JSON.parse(exact.stderr.trim())).toEqual({ notice: 'subscribed to channel "news"; Ctrl-C to stop' });

    await Promise.all([stop(exact), stop(pattern)]);
    expect(exact.lines).toHaveLength(1); // news.eu did not match "news"
  });

  it('says when nobody heard a message, since a live channel keeps nothing', async () => {
    const result = await cli.run(['publish', 'empty-room', '{}']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^delivered to 0 subscribers: no one listens on it now/);
  });

  it('interoperates with redis-cli in --raw mode, both ways', async () => {
    const channel = `task:pubsub:${scope().prefix}`; // raw names ignore the prefix: one per test
    const sub = await subscriber(['--raw', channel]);

    const { stdout } = await run('redis-cli', ['-p', String(redis.server.port), 'PUBLISH', channel, '7']);
    expect(stdout.trim()).toBe('1');
    expect(await cli.run(['publish', '--raw', channel, 'two\nlines'])).toMatchObject({ code: 0, stdout: 'delivered to 1 subscriber\n' });
    // Printed one per line: a raw message holding a line break is shown JSON-quoted.
    expect(await untilLines(sub, 2)).toEqual(['7', '"two\\nlines"']);

    // The other way: a plain Redis subscriber gets exactly the string errand published.
    const plain = scope().client();
    const heard = new Promise<[string, string]>((resolve) => plain.on('message', (name: string, text: string) => resolve([name, text])));
    await plain.subscribe(channel);
    const published = await cli.run(['publish', '--raw', '--json', channel, 'hello world']);
    expect(JSON.parse(published.stdout)).toEqual({ channel, raw: true, receivers: 2, partial: false });
    expect(await heard).toEqual([channel, 'hello world']);
    expect(await untilLines(sub, 3)).toEqual(['7', '"two\\nlines"', 'hello world']);
    await stop(sub);
  });

  it('suggests --raw for a name that is not an Errand channel name, before reaching Redis', async () => {
    const result = await cli.run(['publish', 'task:pubsub:channel', '7'], { env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}` } });
    expect(result.code).toBe(2);
    expect(oneLine(result, { anyStdout: true })).toBe(
      'errand: invalid channel name "task:pubsub:channel": use 1-128 characters from A-Z a-z 0-9 . _ -; or, for an exact Redis channel name (as redis-cli and other clients use it), add --raw',
    );
  });

  it('says a pattern cannot be published to, before reaching Redis', async () => {
    const result = await cli.run(['publish', 'news.*', '7'], { env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}` } });
    expect(result.code).toBe(2);
    expect(oneLine(result, { anyStdout: true })).toBe(
      'errand: a pattern cannot be published to: "news.*" holds a wildcard (* or ?), and a message goes to one channel; name it exactly (e.g. "news.eu"), and subscribe with the pattern',
    );
  });

  it('exits 1 with one line when Redis does not answer', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const result = await cli.run(['subscribe', 'news'], { env: { REDIS_URL: url } });
    expect(result.code).toBe(1);
    expect(oneLine(result, { anyStdout: true })).toMatch(/^errand: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(connect ECONNREFUSED/);
  });
});

describe('durable topics', () => {
  it('prints each message of a group once and acknowledges it, across restarts', async () => {
    const s = scope();
    const early = await Promise.all([1, 2, 3].map(async (n) => (await cli.run(['publish', '--topic', 'orders', `{"n":${n}}`])).stdout.trim()));
    for (const id of early) expect(id).toMatch(/^\d+-\d+$/);

    const sub = await subscriber(['--topic', 'orders', '--group', 'audit', '--from', 'earliest', '--json']);
    expect(JSON.parse(sub.stderr)).toEqual({ notice: 'subscribed to topic "orders" as a member of group "audit" (new group); Ctrl-C to stop' });
    const late = JSON.parse((await cli.run(['publish', '--json', '--topic', 'orders', '{"n":4}'])).stdout) as { topic: string; id: string };
    expect(late).toEqual({ topic: 'orders', id: expect.stringMatching(/^\d+-\d+$/) });
    const records = (await untilLines(sub, 4)).map((line) => JSON.parse(line) as Record<string, unknown>);
    await stop(sub);

    expect(records.map(({ id, message }) => [id, message]).sort()).toEqual(
      [...early, late.id].map((id, i) => [id, { n: i + 1 }]).sort(),
    );
    expect(records[0]).toMatchObject({ topic: 'orders', group: 'audit', attempt: 1, publishedAt: expect.any(Number) });
    const topic = s.add(new Topic('orders', { connection: redis.url, prefix: s.prefix }));
    expect((await topic.info()).groups).toEqual([expect.objectContaining({ name: 'audit', pending: 0, lag: 0 })]);

    // The group goes on where it was: only what came after is printed, in plain form.
    const again = await subscriber(['--topic', 'orders', '--group', 'audit', '--from', 'earliest']);
    expect(again.stderr).toMatch(/group "audit" exists and goes on where it was; --from applies only when a group is created/);
    await cli.run(['publish', '--topic', 'orders', '{"n":5}']);
    expect(await untilLines(again, 1)).toEqual(['{"n":5}']);
    await stop(again);
    expect(again.lines).toEqual(['{"n":5}']);
    expect((await topic.info()).groups).toEqual([expect.objectContaining({ name: 'audit', pending: 0, lag: 0 })]);
  }, 60_000); // seven CLI runs one after another
});

describe('usage errors exit 2 with one line', () => {
  it('rejects flag combinations that do not go together', async () => {
    const cases: [string[], string][] = [
      [['subscribe', '--topic', 'orders'], 'errand: a topic subscriber joins a group: add --group <name>'],
      [['subscribe', 'news', '--group', 'audit'], 'errand: --group applies to durable topics: add --topic'],
      [['subscribe', '--topic', '--raw', 'orders', '--group', 'a'], 'errand: --raw applies to live channels; topics carry JSON'],
      [['publish', '--topic', '--raw', 'orders', 'x'], 'errand: --raw applies to live channels; topics carry JSON'],
      [['subscribe', '--topic', 'orders', '--group', 'a', '--from', 'yesterday'], "errand: option '--from <start>' argument 'yesterday' is invalid. Use new, earliest"],
      [['publish', 'news', 'not json'], 'errand: the message is not valid JSON'],
      [['publish', '--topic', 'no spaces', '{}'], 'errand: invalid topic name "no spaces"'],
    ];
    const results = await Promise.all(cases.map(([args]) => cli.run(args)));
    results.forEach((result, i) => {
      expect(result.code, cases[i]![0].join(' ')).toBe(2);
      expect(oneLine(result, { anyStdout: true }).startsWith(cases[i]![1]), oneLine(result, { anyStdout: true })).toBe(true);
    });
  }, 60_000); // seven CLI processes at once
});
