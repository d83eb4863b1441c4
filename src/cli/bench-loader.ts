/**
 * Finds and loads the benchmark for `errand bench`. It lives in bench/ of a checkout, next
 * to src/ and dist/ (not in the published package), is TypeScript (loaded through tsx, so
 * the built CLI runs it too), and drives BullMQ and Bee-Queue, which are development
 * dependencies: a missing one is named before the run starts, with the fix.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { CliError } from './cli-error.js';
import { registerTypeScript } from './typescript.js';

/** src/cli/ and dist/cli/ both sit two levels below the checkout's root. */
const BENCH_DIR = new URL('../../bench/', import.meta.url);

/** The package each peer system needs (Errand itself needs none). */
export const SYSTEM_PACKAGES: Readonly<Record<string, string>> = { bullmq: 'bullmq', beequeue: 'bee-queue' };

/** What `errand bench` uses of bench/settings.ts and bench/run.ts. */
export interface BenchModules {
  parseSettings(argv: string[]): { systems: readonly string[] } | undefined;
  UsageError: new (...args: never[]) => Error;
  USAGE: string;
  main(argv: string[]): Promise<number>;
}

export async function loadBench(): Promise<BenchModules> {
  const run = new URL('run.ts', BENCH_DIR);
  if (!existsSync(run)) {
    throw new CliError(
      'BENCH_UNAVAILABLE',
      `the benchmark is not part of the installed package (no ${fileURLToPath(run)}): run it from a checkout of errand's repository, after npm install there`,
    );
  }
  await registerTypeScript('the benchmark (bench/run.ts)');
  const [settings, runner] = await Promise.all([import(new URL('settings.ts', BENCH_DIR).href), import(run.href)]);
  return { ...(settings as Omit<BenchModules, 'main'>), main: (runner as Pick<BenchModules, 'main'>).main };
}

/** The packages of `packages` that cannot be resolved from `from` (a file path or URL). */
export function missingPackages(packages: readonly string[], from: string | URL = BENCH_DIR): string[] {
  const require = createRequire(from);
  return packages.filter((name) => {
    try {
      require.resolve(name);
      return false;
    } catch {
      return true;
    }
  });
}

/** Fails with the fix when a system the run needs has no library installed. */
export function checkSystemsInstalled(systems: readonly string[], from?: string | URL): void {
  const missing = missingPackages(systems.flatMap((system) => SYSTEM_PACKAGES[system] ?? []), from);
  if (!missing.length) return;
  const others = systems.filter((system) => !missing.includes(SYSTEM_PACKAGES[system] ?? ''));
  throw new CliError(
    'BENCH_UNAVAILABLE',
    `the benchmark needs errand's development dependencies, and ${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not installed: ` +
      `run npm install in the errand checkout (not with --omit=dev or NODE_ENV=production)` +
      (others.length ? `, or leave ${missing.length === 1 ? 'that system' : 'those systems'} out (--systems ${others.join(',')})` : ''),
  );
}
