// The CLI's contract with people and scripts: help for every command, exit codes (0 ok,
// 1 failure, 2 usage), and bad input answered by one line on stderr without a stack trace.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oneLine, ROOT, useCli, type CliResult } from './support/cli.js';
import { freePort } from './support/redis-server.js';

const cli = useCli();
const COMMANDS = ['worker', 'enqueue', 'stats', 'inspect', 'logs', 'retry', 'cancel', 'remove', 'pause', 'resume', 'publish', 'subscribe', 'serve', 'dev', 'bench'];
const HANDLERS = 'test/fixtures/cli-handlers.mjs';

describe('help', () => {
  it('lists every command', async () => {
    const result = await cli.run(['--help']);
    expect(result.code).toBe(0);
    for (const command of COMMANDS) expect(result.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it('has --help for every command', async () => {
    const results = await Promise.all(COMMANDS.map((command) => cli.run([command, '--help'])));
    results.forEach((result, i) => {
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: errand ${COMMANDS[i]} `);
    });
  }, 60_000); // one process per command, all at once

  it('prints a command\'s help with `errand help <command>`, exiting 0', async () => {
    const result = await cli.run(['help', 'subscribe']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('Usage: errand subscribe ');
  });

  it('prints the help on stderr and exits 2 when no command is given', async () => {
    const result = await cli.run([]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Usage: errand');
  });

  it('prints the version through the bin launcher', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const child = spawn(process.execPath, [join(ROOT, 'bin/errand.js'), '--version'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const [code] = (await once(child, 'close')) as [number];
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(version);
  });
});

describe('usage errors exit 2 with one line', () => {
  it('rejects an unknown command, suggesting the near one', async () => {
    const result = await cli.run(['stat']);
    expect(result.code).toBe(2);
    expect(oneLine(result)).toBe("errand: unknown command 'stat' (Did you mean stats?) (see: errand --help)");
  });

  it('rejects an unknown flag, pointing at the command help', async () => {
    const result = await cli.run(['stats', '--bogus']);
    expect(result.code).toBe(2);
    expect(oneLine(result)).toBe("errand: unknown option '--bogus' (see: errand stats --help)");
  });

  it('rejects a missing argument', async () => {
    const result = await cli.run(['inspect', 'emails']);
    expect(result.code).toBe(2);
    expect(oneLine(result)).toMatch(/^errand: missing required argument 'id'/);
  });

  it('rejects a flag value that is not a number', async () => {
    const result = await cli.run(['worker', HANDLERS, '--concurrency', 'lots']);
    expect(result.code).toBe(2);
    expect(oneLine(result)).toMatch(/^errand: option '-c, --concurrency <n>' argument 'lots' is invalid\. Use a whole number from 1 to 10000\./);
  });

  it('rejects a Redis URL that is not one', async () => {
    const result = await cli.run(['stats', '--redis', 'http://localhost:6379']);
    expect(result.code).toBe(2);
    expect(oneLine(result)).toMatch(/^errand: invalid Redis URL "http:\/\/localhost:6379" \(from --redis\): use redis:\/\//);
  });

  it('rejects an invalid queue name before reaching Redis', async () => {
    const result = await cli.run(['pause', 'no spaces']);
    expect(result.code).toBe(2);
    expect(oneLine(result)).toBe('errand: invalid queue name "no spaces": use 1-128 characters from A-Z a-z 0-9 . _ -');
  });

  it('rejects a key prefix that keys cannot hold, naming where it came from', async () => {
    const [flag, env] = await Promise.all([cli.run(['stats', '--prefix', 'a b']), cli.run(['stats'], { env: { ERRAND_PREFIX: 'x:y' } })]);
    expect([flag.code, env.code]).toEqual([2, 2]);
    expect(oneLine(flag)).toBe('errand: invalid --prefix "a b": use 1-64 characters from A-Z a-z 0-9 . _ -');
    expect(oneLine(env)).toBe('errand: invalid ERRAND_PREFIX "x:y": use 1-64 characters from A-Z a-z 0-9 . _ -');
  });

  it('writes the error as JSON with --json', async () => {
    const result = await cli.run(['--json', 'stats', '--interval', '-1']);
    expect(result.code).toBe(2);
    expect(JSON.parse(oneLine(result))).toEqual({ error: { code: 'USAGE', message: expect.stringContaining("option '-i, --interval <ms>' argument '-1' is invalid") } });
  });
});

describe('an unreachable Redis', () => {
  it('fails a command at once with one line naming the address and the fix (exit 1)', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const result = await cli.run(['stats', '--redis', url]);
    expect(result.code).toBe(1);
    expect(oneLine(result)).toBe(
      `errand: cannot reach Redis at ${url} (connect ECONNREFUSED ${url.slice(8)}): start redis-server there, or point --redis or REDIS_URL at a running one`,
    );
  });

  it('stops a worker before it starts, reading REDIS_URL', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const result = await cli.run(['worker', HANDLERS], { env: { REDIS_URL: url } });
    expect(result.code).toBe(1);
    expect(oneLine(result)).toMatch(/^errand: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(connect ECONNREFUSED/);
  });

  it('hides the password of the URL', async () => {
    const result = await cli.run(['pause', 'q', '--redis', `redis://:hunter2@127.0.0.1:${await freePort()}`]);
    expect(result.code).toBe(1);
    expect(oneLine(result)).toMatch(/^errand: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ /);
  });

  it('adds the stack trace with --debug', async () => {
    const result = await cli.run(['--debug', 'inspect', 'q', '1', '--redis', `redis://127.0.0.1:${await freePort()}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^errand: cannot reach Redis at /);
    expect(result.stderr).toMatch(/^\s+at /m);
  });
});
