// A newcomer's first hour, on a fresh clone in a temporary folder (the committed tree: a
// `git clone` of this checkout):
//
// 1. the README's first commands: `npm ci`, then `npm start` with PORT; /readyz answers 200;
//    one Ctrl-C ends it within 5 s, and nothing it started is left running;
// 2. the package: `npm pack` (prepack builds dist/), installed into a scratch project with
//    `npm install <tarball>`, where the README's JavaScript example runs with plain `node`,
//    `require('errand')` works, every export and source map points at a shipped file, the
//    runtime dependency tree has the size the README states, and a .ts handlers module
//    without tsx gets the line saying how to install it.
//
// The slow steps (npm ci, the builds, npm install) are bounded by the timeouts below; npm
// uses its cache first (npm_config_prefer_offline). About 1-2 minutes on two cores.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './support/cli.js';
import { useRedis, useScope } from './support/fixtures.js';
import { npmRun, running } from './support/npm-start.js';

const exec = promisify(execFile);
const redis = useRedis();
const scope = useScope(redis);

/** npm configured as a newcomer's would be, but cache first and quiet (settings, not flags: the commands stay as written). */
const NPM_ENV = { ...process.env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };

let dir: string;
let clone: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'errand-fresh-'));
  clone = join(dir, 'errand');
  execFileSync('git', ['clone', '--quiet', ROOT, clone]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The README's first sh block, without comments: the commands a newcomer runs in order. */
function firstCommands(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /^```sh[^\n]*\n([\s\S]*?)^```$/m.exec(readme)![1]!;
  return block.split('\n').map((line) => line.replace(/#.*$/, '').trim()).filter(Boolean);
}

/** Processes whose working directory is inside `folder`. */
function processesIn(folder: string): number[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/cwd`).startsWith(folder);
    } catch {
      return false; // gone, or not ours to read
    }
  });
}

describe('a fresh clone', () => {
  it('the README opens with npm ci, npm start, npm test', () => {
    expect(firstCommands()).toEqual(['npm ci', 'npm start', 'npm test']);
  });

  it('installs with npm ci, starts with npm start and PORT, answers /readyz, and stops on one Ctrl-C', async () => {
    const started = Date.now();
    await exec('npm', ['ci'], { cwd: clone, env: NPM_ENV, timeout: 240_000 });
    const installed = Date.now();
    const s = scope();
    const run = s.add(npmRun(clone, ['start'], { ...NPM_ENV, PORT: '0', REDIS_URL: redis.url, ERRAND_PREFIX: s.prefix, HOST: undefined, ERRAND_TOKEN: undefined }));
    const ready = await run.waitFor(/^Errand is ready/); // after building dist/ from scratch
    const base = /dashboard (http:\/\/\S+)\//.exec(ready)![1]!;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const node = run.nodePid();
    run.ctrlC();
    const sent = Date.now();
    const exit = await run.exited;
    expect(exit.code === 130 || exit.signal === 'SIGINT', JSON.stringify(exit)).toBe(true);
    expect(Date.now() - sent).toBeLessThan(5_000);
    expect(running(node)).toBe(false);
    expect(processesIn(clone)).toEqual([]);
    console.log(`fresh clone: npm ci ${((installed - started) / 1000).toFixed(1)} s, npm start to ready ${((sent - installed) / 1000).toFixed(1)} s`);
  }, 360_000);
});

describe('the package', () => {
  let scratch: string;
  let files: string[];
  const installedRoot = () => join(scratch, 'node_modules', 'errand');

  beforeAll(async () => {
    const started = Date.now();
    if (!existsSync(join(clone, 'node_modules'))) await exec('npm', ['ci'], { cwd: clone, env: NPM_ENV, timeout: 240_000 });
    const packed = await exec('npm', ['pack', '--json', '--pack-destination', dir], { cwd: clone, env: NPM_ENV, timeout: 240_000, maxBuffer: 64 * 1024 * 1024 });
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as [{ filename: string; files: { path: string }[] }];
    files = info.files.map((file) => file.path);
    scratch = join(dir, 'scratch');
    mkdirSync(scratch);
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    const tarball = join(dir, info.filename);
    await exec('npm', ['install', tarball], { cwd: scratch, env: NPM_ENV, timeout: 240_000 });
    console.log(`package: npm pack and npm install ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 600_000);

  it('ships the build, its sources, LICENSE and nothing of the checkout besides', () => {
    for (const file of ['LICENSE', 'README.md', 'package.json', 'bin/errand.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/dashboard/assets/app.js', 'dist/redis/scripts/enqueue.lua']) {
      expect(files).toContain(file);
    }
    expect(files.filter((file) => /^(test|bench|build|scripts|docs|src\/dashboard\/client)\//.test(file))).toEqual([]);
  });

  it('points every export and every source map at a file it ships', () => {
    const pkg = JSON.parse(readFileSync(join(installedRoot(), 'package.json'), 'utf8')) as { exports: Record<string, string | Record<string, string>> };
    expect(Object.keys(pkg.exports)).toEqual(['.', './gateway', './testing', './metrics', './package.json']);
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      expect(Object.keys(target), subpath).toEqual(['types', 'import', 'default']);
      for (const file of Object.values(target)) expect(existsSync(join(installedRoot(), file)), `${subpath}: ${file}`).toBe(true);
    }
    const maps = files.filter((file) => file.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(50);
    const missing = maps.flatMap((map) => {
      const { sources } = JSON.parse(readFileSync(join(installedRoot(), map), 'utf8')) as { sources: string[] };
      return sources.map((source) => resolve(installedRoot(), dirname(map), source)).filter((source) => !existsSync(source));
    });
    expect(missing).toEqual([]);
  });

  it('runs the README\'s JavaScript example with plain node against a real Redis', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const example = /^```js\n([\s\S]*?)^```$/m.exec(readme)![1]!;
    writeFileSync(join(scratch, 'example.js'), example);
    const { stdout } = await exec(process.execPath, ['example.js'], { cwd: scratch, env: { ...process.env, REDIS_URL: `${redis.url}/5` }, timeout: 20_000 });
    expect(stdout).toBe('sent to ada@example.com\n');
  });

  it('loads with require() and by every subpath, and its gateway answers on this Node', async () => {
    const required = await exec(process.execPath, ['-e', "const e = require('errand'); console.log(typeof e.Queue, typeof e.Worker)"], { cwd: scratch });
    expect(required.stdout).toBe('function function\n');
    const script = [
      "const { buildGateway } = await import('errand/gateway');",
      "const { startRedis } = await import('errand/testing');",
      "const { ErrandMetrics } = await import('errand/metrics');",
      'const gateway = await buildGateway({ connection: process.env.REDIS_URL, logger: false });',
      "const reply = await gateway.app.inject({ method: 'GET', url: '/healthz' });", // light-my-request, and its cookie 2 (ESM), loaded by require
      'console.log(reply.statusCode, typeof startRedis, typeof ErrandMetrics);',
      'await gateway.close();',
    ].join('\n');
    const imported = await exec(process.execPath, ['--input-type=module', '-e', script], { cwd: scratch, env: { ...process.env, REDIS_URL: redis.url }, timeout: 20_000 });
    expect(imported.stdout).toBe('200 function function\n');
  });

  it('adds as many packages as the README says, tsx and pino-pretty not among them', async () => {
    const { stdout } = await exec('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: scratch, env: NPM_ENV });
    const packages = stdout.trim().split('\n').slice(1); // the first line is the scratch project
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const stated = Number(/`npm install errand` adds (\d+) packages/.exec(readme)![1]);
    expect(packages.length).toBe(stated);
    expect(packages.filter((path) => /node_modules\/(tsx|esbuild|pino-pretty)$/.test(path))).toEqual([]);
  });

  it('says how to install tsx when a .ts handlers module is given without it (exit 1)', async () => {
    writeFileSync(join(scratch, 'handlers.ts'), 'export default { emails: async () => 1 };\n');
    const result = await exec('npx', ['errand', 'worker', 'handlers.ts'], { cwd: scratch, env: { ...NPM_ENV, REDIS_URL: redis.url }, timeout: 20_000 }).catch((error: { code: number; stderr: string }) => error);
    expect((result as { code: number }).code).toBe(1);
    expect((result as { stderr: string }).stderr).toBe(
      'errand: handlers module handlers.ts is TypeScript, and running TypeScript needs tsx, which is not installed: npm install --save-dev tsx (in the project that runs errand), or compile it to JavaScript and give the .js file\n',
    );
  });
});
