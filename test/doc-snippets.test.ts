/**
 * Every code block of README.md and docs/*.md runs as written. New docs and new blocks are
 * checked as they are added: the blocks are found by reading the files, not listed here.
 *
 * The convention, by a block's info string (the words after the opening fence):
 *
 *   ts, js          a program: compiled together by tsc (typecheck, with `errand` and its
 *                   subpaths resolving to src/ as in tsconfig.json), then run, one process
 *                   each (`node --import tsx`), against a redis-server this test starts:
 *                   REDIS_URL names it (a database of its own per block, emptied first), so a
 *                   block that needs Redis uses `process.env.REDIS_URL`. It must exit 0
 *                   within 20 s, so it must close what it opens.
 *   sh              run by `bash -euo pipefail` in the repository's root with the same
 *                   REDIS_URL and a key prefix of its own (ERRAND_PREFIX); must exit 0.
 *   <lang> no-run   not run (a long-running server, output that needs another terminal, a
 *                   placeholder host): the words after `no-run` say why, and must be there.
 *   json            sample output: must parse as JSON.
 *   text            sample output or a picture: not checked.
 *   <lang> file=P   a copy of the file P (relative to the repository's root), which is
 *                   itself a test: it must be identical to P (vitest runs P).
 *
 * A block without an info string, or in another language without `no-run`, fails the test:
 * say what it is.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './support/cli.js';
import { uniquePrefix, useRedis } from './support/fixtures.js';

const run = promisify(execFile);
const redis = useRedis();

interface Block {
  doc: string;
  line: number;
  lang: string;
  attrs: string;
  code: string;
}

/** Fenced blocks (``` at the start of a line) of one markdown file. */
function blocks(doc: string): Block[] {
  const text = readFileSync(join(ROOT, doc), 'utf8');
  const found: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((line, j) => j > i && line === '```');
    if (end < 0) throw new Error(`${doc}:${i + 1}: a code block is not closed`);
    found.push({ doc, line: i + 1, lang: open[1]!, attrs: open[2]!.trim(), code: `${lines.slice(i + 1, end).join('\n')}\n` });
    i = end;
  }
  return found;
}

const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).sort().map((name) => `docs/${name}`)];
const ALL = DOCS.flatMap(blocks);
const name = (block: Block) => `${block.doc}:${block.line} (${block.lang}${block.attrs ? ` ${block.attrs}` : ''})`;
const runnable = (block: Block) => !/^no-run\b/.test(block.attrs) && !block.attrs.startsWith('file=');
const programs = ALL.filter((block) => (block.lang === 'ts' || block.lang === 'js') && runnable(block));
const scripts = ALL.filter((block) => block.lang === 'sh' && runnable(block));

/** Where the programs are written: inside the checkout, so `errand`, ioredis and the rest resolve as for a user. */
const DIR = join(ROOT, '.tmp', 'doc-snippets');
const fileOf = (index: number) => join(DIR, `snippet-${String(index).padStart(2, '0')}.${programs[index]!.lang === 'js' ? 'mjs' : 'ts'}`);

describe('the docs\' code blocks', () => {
  it('each say what they are', () => {
    const unclear = ALL.filter((block) => {
      if (block.attrs.startsWith('file=')) return false;
      if (/^no-run\b/.test(block.attrs)) return !/^no-run\s+\S/.test(block.attrs); // a reason is required
      return !['ts', 'js', 'sh', 'json', 'text'].includes(block.lang);
    });
    expect(unclear.map(name), 'give each block ts, js, sh, json or text, or <lang> no-run <why>').toEqual([]);
    expect(programs.length).toBeGreaterThan(10); // the test finds the blocks at all
  });

  it('json samples parse', () => {
    const broken = ALL.filter((block) => block.lang === 'json' && runnable(block)).filter((block) => {
      try {
        JSON.parse(block.code);
        return false;
      } catch {
        return true;
      }
    });
    expect(broken.map(name)).toEqual([]);
  });

  it('copies of test files are identical to them', () => {
    for (const block of ALL.filter((b) => b.attrs.startsWith('file='))) {
      const path = block.attrs.slice('file='.length);
      expect(block.code, `${name(block)} differs from ${path}`).toBe(readFileSync(join(ROOT, path), 'utf8'));
    }
  });

  describe('programs', () => {
    beforeAll(() => {
      rmSync(DIR, { recursive: true, force: true });
      mkdirSync(DIR, { recursive: true });
      programs.forEach((block, index) => {
        // `export {}` makes every block a module, so top-level await compiles.
        writeFileSync(fileOf(index), `// ${name(block)}\n${block.code}export {};\n`);
      });
      writeFileSync(join(DIR, 'tsconfig.json'), JSON.stringify({ extends: '../../tsconfig.json', compilerOptions: { noEmit: true, allowJs: true, checkJs: false, noUnusedLocals: false }, include: ['*.ts', '*.mjs'] }));
    });
    afterAll(() => rmSync(DIR, { recursive: true, force: true }));

    it('compile', async () => {
      const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      const result = await run(process.execPath, [tsc, '-p', join(DIR, 'tsconfig.json')], { cwd: ROOT }).catch((error: { stdout: string }) => error);
      const errors = String(result.stdout).replace(new RegExp(`(${DIR}|\\.tmp/doc-snippets)/`, 'g'), '');
      // Name each error by its doc and line rather than by the generated file.
      const named = errors.replace(/snippet-(\d+)\.(?:ts|mjs)\((\d+),\d+\)/g, (_m, index: string, line: string) => {
        const block = programs[Number(index)]!;
        return `${block.doc}:${block.line + Number(line) - 1}`;
      });
      expect(named).toBe('');
    }, 120_000);

    it('run against a real Redis, each exiting 0', async () => {
      const failures: string[] = [];
      const queue = programs.map((_, index) => index);
      const worker = async () => {
        for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
          const db = index % 16; // at most three run at once: never two on one database
          const client = new Redis(`${redis.url}/${db}`);
          await client.flushdb();
          client.disconnect();
          const env = { ...process.env, REDIS_URL: `${redis.url}/${db}`, ERRAND_PREFIX: undefined, ERRAND_TOKEN: undefined };
          try {
            await run(process.execPath, ['--import', 'tsx', fileOf(index)], { cwd: ROOT, env, timeout: 20_000, killSignal: 'SIGKILL' });
          } catch (error) {
            const { stdout, stderr, killed } = error as { stdout: string; stderr: string; killed: boolean };
            failures.push(`${name(programs[index]!)}${killed ? ' did not exit within 20 s' : ' failed'}:\n${stdout}${stderr}`.trim());
          }
        }
      };
      await Promise.all([worker(), worker(), worker()]);
      expect(failures).toEqual([]);
    }, 240_000);
  });

  it('shell blocks run in the repository', async () => {
    const failures: string[] = [];
    for (const block of scripts) {
      const env = { ...process.env, REDIS_URL: redis.url, ERRAND_PREFIX: uniquePrefix(), ERRAND_TOKEN: undefined };
      try {
        // A block runs a few CLI commands, each starting Node: seconds each on a loaded machine.
        await run('bash', ['-euo', 'pipefail', '-c', block.code], { cwd: ROOT, env, timeout: 45_000, killSignal: 'SIGKILL' });
      } catch (error) {
        const { stdout, stderr, killed } = error as { stdout: string; stderr: string; killed: boolean };
        failures.push(`${name(block)}${killed ? ' did not exit within 45 s' : ' failed'}:\n${stdout}${stderr}`.trim());
      }
    }
    expect(failures).toEqual([]);
  }, 300_000);
});
