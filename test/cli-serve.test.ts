// `errand serve` (the gateway alone) and `errand dev` (with the demo, and a private
// redis-server when none answers): they listen where told, answer, refuse an open gateway
// beyond loopback in one line, and stop cleanly on SIGTERM (exit 143). Their log is JSON
// lines (stdout is a pipe); readiness is awaited on it.
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { oneLine, useCli, type CliProcess, type CliResult } from './support/cli.js';
import { useRedis, useScope } from './support/fixtures.js';
import { freePort } from './support/redis-server.js';

const redis = useRedis();
const scope = useScope(redis);
const cli = useCli(() => ({ url: redis.url, prefix: scope().prefix }));

/** The `msg` of every log record printed so far. */
function messages(process: CliProcess): string[] {
  return process.records.map((record) => String(record.msg));
}

async function logged(process: CliProcess, pattern: RegExp): Promise<string> {
  await process.waitFor(() => messages(process).some((msg) => pattern.test(msg)), `a log line matching ${pattern}`);
  return messages(process).find((msg) => pattern.test(msg))!;
}

async function stopped(process: CliProcess): Promise<CliResult> {
  process.kill('SIGTERM');
  const result = await process.exited;
  expect(result.code, result.stderr).toBe(143); // 128 + SIGTERM's number, after the orderly stop
  expect(messages(process).slice(-2)).toEqual(['SIGTERM: shutting down', 'stopped']);
  return result;
}

describe('errand serve', () => {
  it('serves the API on the port given and stops in order on SIGTERM (exit 143)', async () => {
    const port = await freePort();
    const serve = cli.start(['serve', '--port', String(port)], { env: { ERRAND_TOKEN: undefined } });
    const ready = await logged(serve, /^Errand gateway is ready/);
    const base = `http://127.0.0.1:${port}`;
    expect(ready).toBe(`Errand gateway is ready: dashboard ${base}/ , HTTP API ${base}/v1 (see ${base}/openapi.json)`);

    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: 'ready' });
    const enqueued = await fetch(`${base}/v1/queues/emails/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payload: { to: 'ada@example.com' } }),
    });
    expect(enqueued.status).toBe(201);
    expect(await scope().queue('emails').counts()).toMatchObject({ waiting: 1 });
    expect(messages(serve).some((msg) => msg.startsWith('Errand is ready'))).toBe(false); // no demo

    await stopped(serve);
  });

  it('takes PORT and ERRAND_TOKEN from the environment', async () => {
    const port = await freePort();
    const serve = cli.start(['serve'], { env: { PORT: String(port), ERRAND_TOKEN: 'sesame-sesame' } });
    await logged(serve, /^Errand gateway is ready/);
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/v1/queues`)).status).toBe(401);
    expect((await fetch(`${base}/v1/queues`, { headers: { authorization: 'Bearer sesame-sesame' } })).status).toBe(200);
    await stopped(serve);
  });

  it('refuses to listen beyond loopback without a token, in one line', async () => {
    const result = await cli.run(['serve', '--host', '0.0.0.0', '--port', '0'], { env: { ERRAND_TOKEN: undefined } });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(oneLine(result, { anyStdout: true })).toMatch(/^errand: refusing to listen on 0\.0\.0\.0 without a token: .* Set ERRAND_TOKEN .*, or listen on 127\.0\.0\.1$/);
  });

  it('says when the port is taken, naming --port', async () => {
    const result = await cli.run(['serve', '--port', String(redis.server.port)]);
    expect(result.code).toBe(1);
    expect(oneLine(result, { anyStdout: true })).toBe(`errand: 127.0.0.1:${redis.server.port} is in use: stop what listens there, or pick another port with --port (0 picks a free one)`);
  });

  it('rejects a PORT that is not a port', async () => {
    const result = await cli.run(['serve'], { env: { PORT: '80a' } });
    expect(result.code).toBe(2);
    expect(oneLine(result, { anyStdout: true })).toBe('errand: PORT must be a port number from 0 to 65535 (0 picks a free one), got "80a"');
  });
});

describe('errand dev', () => {
  it('starts a private redis-server when nothing answers at --local-redis, runs the demo, and cleans up', async () => {
    const nobody = `redis://127.0.0.1:${await freePort()}`;
    // Without --redis or REDIS_URL, the Redis is found the way npm start finds it.
    const dev = cli.start(['dev', '--port', '0', '--local-redis', nobody], { env: { REDIS_URL: undefined } });
    const started = await logged(dev, /^no Redis answers at /);
    const [, privateUrl, dir] = /started a private redis-server at (redis:\/\/\S+) \(data in (\S+), deleted on exit/.exec(started)!;
    expect(started.startsWith(`no Redis answers at ${nobody}: `)).toBe(true);
    const ready = await logged(dev, /^Errand is ready/);
    const base = /dashboard (http:\/\/\S+)\//.exec(ready)![1]!;

    expect((await fetch(`${base}/demo/prodcons`, { redirect: 'manual' })).status).toBe(302);
    await logged(dev, /^Task get \d$/);
    const client = new Redis(privateUrl!);
    try {
      const demo = await client.keys('*demo*');
      expect(demo.length).toBeGreaterThan(0); // the task went to the private server
    } finally {
      client.disconnect();
    }

    await stopped(dev);
    expect(existsSync(dir!)).toBe(false);
    // The private server is gone too: its port refuses connections.
    const socket = connect(Number(new URL(privateUrl!).port), '127.0.0.1');
    const [error] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNREFUSED');
  });

  it('uses the Redis of --redis as is, and refuses --local-redis beside it', async () => {
    const both = await cli.run(['dev', '--redis', redis.url, '--local-redis', redis.url]);
    expect(both.code).toBe(2);
    expect(oneLine(both, { anyStdout: true })).toBe('errand: give --redis (use that Redis) or --local-redis (use it if it answers, else start one), not both');

    const unreachable = `redis://127.0.0.1:${await freePort()}`;
    const down = await cli.run(['dev', '--port', '0', '--redis', unreachable]);
    expect(down.code).toBe(1);
    expect(oneLine(down, { anyStdout: true })).toMatch(/^errand: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(connect ECONNREFUSED/);
  });
});
