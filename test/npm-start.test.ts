// `npm start`, run through npm as a newcomer runs it (it is `errand dev`): the demo with the
// seed's two halves (redis-cli LPUSH task:prodcons:queue reaches the demo worker, on the
// database of REDIS_URL), Ctrl-C once, and each way it fails, with its exit code and a bound
// on time. Needs dist/ built (npm run build), as CI does first.
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/cli.js';
import { useRedis, useScope, type TestScope } from './support/fixtures.js';
import { npmRun, running, type NpmRun } from './support/npm-start.js';
import { freePort, RedisServer } from './support/redis-server.js';

const redis = useRedis();
const scope = useScope(redis);

function start(s: TestScope, env: Record<string, string | undefined>, args: string[] = []): NpmRun {
  const run = npmRun(ROOT, ['start', ...(args.length ? ['--', ...args] : [])], { ERRAND_PREFIX: s.prefix, PORT: '0', HOST: undefined, ERRAND_TOKEN: undefined, ERRAND_LOG_LEVEL: undefined, ...env });
  s.add(run);
  return run;
}

/** The one line npm start's node printed on stderr (npm's own banner goes to stdout). */
function errorLine(run: NpmRun): string {
  const lines = run.stderr().trim().split('\n');
  expect(lines, run.stderr()).toHaveLength(1);
  return lines[0]!;
}

/**
 * Stopped by Ctrl-C as a shell sees it ($? = 130): node exits 130, and npm exits 130 too,
 * or, when the `sh -c` between them also got the terminal's SIGINT, re-raises SIGINT on
 * itself once its script is done (a shell reports that as 130 as well).
 */
function interrupted(exit: { code: number | null; signal: NodeJS.Signals | null }): boolean {
  return exit.code === 130 || (exit.code === null && exit.signal === 'SIGINT');
}

async function refused(port: number): Promise<boolean> {
  const socket = connect(port, '127.0.0.1');
  const [outcome] = await Promise.race([once(socket, 'error'), once(socket, 'connect')]);
  socket.destroy();
  return (outcome as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED';
}

describe('npm start', () => {
  it('runs the demo: redis-cli LPUSH task:prodcons:queue items on database 5 reach the demo worker; one Ctrl-C exits 130 within 5 s', async () => {
    const s = scope();
    const run = start(s, { REDIS_URL: `${redis.url}/5` });
    const ready = await run.waitFor(/^Errand is ready/);
    const base = /dashboard (http:\/\/\S+)\//.exec(ready)![1]!;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    // What the seed's Flask producer does: LPUSH on database 5.
    execFileSync('redis-cli', ['-p', String(redis.server.port), '-n', '5', 'LPUSH', 'task:prodcons:queue', '7', '8']);
    await run.waitFor(/^Task get 7$/);
    await run.waitFor(/^Task get 8$/);
    const node = run.nodePid();

    run.ctrlC(); // the terminal's SIGINT reaches npm and node, and npm forwards one more
    const sent = Date.now();
    expect(interrupted(await run.exited)).toBe(true);
    expect(Date.now() - sent).toBeLessThan(5_000);
    expect(run.messages.slice(-2)).toEqual(['SIGINT: shutting down', 'stopped']);
    expect(running(node)).toBe(false);
  });

  it('serves the dashboard and both demo links; SIGTERM stops it in order (exit 143)', async () => {
    const s = scope();
    const run = start(s, { REDIS_URL: redis.url });
    const ready = await run.waitFor(/^Errand is ready/);
    const url = /dashboard (http:\/\/\S+)\//.exec(ready)![1]!;
    for (let i = 0; i < 3; i++) expect((await fetch(`${url}/demo/prodcons`, { redirect: 'manual' })).status).toBe(302);
    await run.waitFor(/^Task get [0-9]$/);
    expect((await fetch(`${url}/demo/pubsub`, { redirect: 'manual' })).status).toBe(302);
    const published = await run.waitFor(/^publish task:pubsub:channel -- [0-9]$/);
    await run.waitFor(new RegExp(`^Task get ${published.slice(-1)}$`));
    expect((await fetch(`${url}/`)).status).toBe(200); // the dashboard, built by npm start
    expect((await fetch(`${url}/ui/assets/app.js`)).status).toBe(200);

    process.kill(run.nodePid(), 'SIGTERM');
    expect((await run.exited).code).toBe(143);
    expect(run.messages.slice(-2)).toEqual(['SIGTERM: shutting down', 'stopped']);
    expect(await s.queue('demo').counts()).toMatchObject({ completed: 3, waiting: 0, active: 0 });
  });

  it('refuses to listen beyond loopback (HOST) without a token, in one line (exit 2)', async () => {
    const s = scope();
    const run = start(s, { REDIS_URL: redis.url, HOST: '0.0.0.0' });
    expect((await run.exited).code).toBe(2);
    expect(errorLine(run)).toMatch(/^errand: refusing to listen on 0\.0\.0\.0 without a token/);
  });

  it('starts a private redis-server when none answers, and leaves nothing running after Ctrl-C', async () => {
    const s = scope();
    const nobody = `redis://127.0.0.1:${await freePort()}`;
    const run = start(s, { REDIS_URL: undefined }, ['--local-redis', nobody]);
    const started = await run.waitFor(/^no Redis answers at /);
    const [, privateUrl, dir] = /started a private redis-server at (redis:\/\/\S+) \(data in (\S+), deleted on exit/.exec(started)!;
    await run.waitFor(/^Errand is ready/);
    const node = run.nodePid();
    run.ctrlC();
    expect(interrupted(await run.exited)).toBe(true);
    expect(running(node)).toBe(false);
    expect(existsSync(dir!)).toBe(false);
    expect(await refused(Number(new URL(privateUrl!).port))).toBe(true);
  });

  it('exits 1 within 10 s, in one line, when REDIS_URL does not answer', async () => {
    const s = scope();
    const port = await freePort();
    const run = start(s, { REDIS_URL: `redis://127.0.0.1:${port}/5` });
    const exit = await run.exited;
    expect(exit.code).toBe(1);
    expect(exit.ms).toBeLessThan(10_000);
    expect(errorLine(run)).toBe(
      `errand: cannot reach Redis at redis://127.0.0.1:${port}/5 (connect ECONNREFUSED 127.0.0.1:${port}): start redis-server there, or point --redis or REDIS_URL at a running one`,
    );
  });

  it('exits 2 within 5 s, naming REDIS_URL, when REDIS_URL is not a Redis URL', async () => {
    const s = scope();
    const run = start(s, { REDIS_URL: '127.0.0.1:6379' });
    const exit = await run.exited;
    expect(exit.code).toBe(2);
    expect(exit.ms).toBeLessThan(5_000);
    expect(errorLine(run)).toMatch(/^errand: invalid Redis URL "127\.0\.0\.1:6379" \(from REDIS_URL\): use redis:\/\/host:port\[\/db\]/);
  });

  it('exits 1 within 10 s, naming PORT, when the port is in use', async () => {
    const s = scope();
    const port = redis.server.port; // something listens there
    const run = start(s, { REDIS_URL: redis.url, PORT: String(port) });
    const exit = await run.exited;
    expect(exit.code).toBe(1);
    expect(exit.ms).toBeLessThan(10_000);
    expect(errorLine(run)).toBe(`errand: 127.0.0.1:${port} is in use: stop what listens there, or set PORT to another port (0 picks a free one)`);
  });

  it('stops within its deadline on SIGTERM after Redis went away (exit 143 within 6 s)', async () => {
    const s = scope();
    const lost = await RedisServer.start();
    s.add({ close: () => lost.stop() });
    const run = start(s, { REDIS_URL: lost.url });
    await run.waitFor(/^Errand is ready/);
    const node = run.nodePid();
    await lost.kill();
    const sent = Date.now();
    process.kill(node, 'SIGTERM'); // as a process manager stops it
    const exit = await run.exited;
    expect(exit.code).toBe(143);
    expect(Date.now() - sent).toBeLessThan(6_000);
    expect(running(node)).toBe(false);
  });

  it('does not outlive npm: killed with SIGKILL, npm forwards nothing, and node stops by itself within 5 s', async () => {
    const s = scope();
    const run = start(s, { REDIS_URL: redis.url });
    await run.waitFor(/^Errand is ready/);
    const node = run.nodePid();
    run.child.kill('SIGKILL'); // npm only
    await run.exited;
    const gone = Date.now();
    await new Promise<void>((resolve, reject) => {
      const check = setInterval(() => {
        if (!running(node)) {
          clearInterval(check);
          resolve();
        } else if (Date.now() - gone > 5_000) {
          clearInterval(check);
          reject(new Error(`node ${node} still runs 5 s after npm was killed`));
        }
      }, 100);
    });
  });
});
