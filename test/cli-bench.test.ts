// `errand bench`: the benchmark's own flags passed through (help, usage errors in one line,
// a run small enough to take seconds), and the check that names missing development
// dependencies before a run starts. No speed is asserted here.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkSystemsInstalled, missingPackages } from '../src/cli/bench-loader.js';
import { CliError } from '../src/cli/cli-error.js';
import { oneLine, useCli, type CliResult } from './support/cli.js';

const cli = useCli();
const dir = mkdtempSync(join(tmpdir(), 'errand-cli-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('errand bench', () => {
  it("prints the benchmark's own flags with --help", async () => {
    const result = await cli.run(['bench', '--help']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^Usage: errand bench \[options\]\n/);
    for (const flag of ['--quick', '--only <names>', '--systems <names>', '--tasks <n>', '--json-out <path>']) expect(result.stdout).toContain(flag);
  });

  it('answers a bad flag with one usage line (exit 2)', async () => {
    const [unknown, badName, json] = await Promise.all([
      cli.run(['bench', '--fast']),
      cli.run(['bench', '--quick', '--only', 'speed']),
      cli.run(['bench', '--json']),
    ]);
    expect([unknown.code, badName.code, json.code]).toEqual([2, 2, 2]);
    expect(oneLine(unknown)).toMatch(/^errand: Unknown option '--fast'.* \(see: errand bench --help\)$/);
    expect(oneLine(badName)).toBe(
      'errand: --only: unknown speed; use any of reference, enqueue, processing, isolated, latency, memory, http, flow, partitions, durability, flows (see: errand bench --help)',
    );
    expect(JSON.parse(oneLine(json))).toEqual({
      error: { code: 'USAGE', message: expect.stringMatching(/^errand bench prints a report, not --json: its raw results are written as JSON \(--json-out <path>/) },
    });
  });

  it('runs a small benchmark and writes its raw results', async () => {
    const out = join(dir, 'results.json');
    const result = await cli.run(['bench', '--quick', '--only', 'memory', '--systems', 'errand', '--tasks', '200', '--reps', '1', '--no-progress', '--json-out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Raw results: ${out}`);
    const results = JSON.parse(readFileSync(out, 'utf8')) as { runs: { scenario: string; subject: string; error?: string; problems: string[] }[] };
    expect(results.runs.map(({ scenario, subject, error, problems }) => ({ scenario, subject, error, problems }))).toEqual([
      { scenario: 'memory', subject: 'errand', error: undefined, problems: [] },
    ]);
  }, 60_000);
});

describe('the development dependencies the benchmark needs', () => {
  const elsewhere = join(dir, 'no-node-modules-here.js'); // resolves nothing but node's own

  it('are found in a checkout', () => {
    expect(missingPackages(['bullmq', 'bee-queue'])).toEqual([]);
    expect(() => checkSystemsInstalled(['errand', 'bullmq', 'beequeue'])).not.toThrow();
  });

  it('are named with the fix when missing, before anything runs', () => {
    expect(missingPackages(['bullmq', 'bee-queue', 'node:fs'], elsewhere)).toEqual(['bullmq', 'bee-queue']);
    let error: unknown;
    try {
      checkSystemsInstalled(['errand', 'bullmq', 'beequeue'], elsewhere);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CliError);
    expect(error).toMatchObject({ code: 'BENCH_UNAVAILABLE', exitCode: 1 });
    expect((error as Error).message).toBe(
      "the benchmark needs errand's development dependencies, and bullmq and bee-queue are not installed: " +
        'run npm install in the errand checkout (not with --omit=dev or NODE_ENV=production), or leave those systems out (--systems errand)',
    );
    // Errand alone needs none of them.
    expect(() => checkSystemsInstalled(['errand'], elsewhere)).not.toThrow();
  });
});
