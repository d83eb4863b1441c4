/**
 * `npm run bench` (see --help): benchmarks Errand, BullMQ and Bee-Queue on the bench's own
 * redis-server, prints the report, and writes the raw results as JSON under
 * bench/results/. Exits 1 when a run failed or a correctness check did not hold, 2 on a
 * bad command line.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Harness } from './harness.js';
import { describeMachine, loadAverage } from './machine.js';
import { Progress } from './progress.js';
import { renderReport } from './report.js';
import { summarize, type BenchResults } from './results.js';
import { figureDefs, plan, runPlan } from './runner.js';
import { parseSettings, USAGE, UsageError, type BenchSettings } from './settings.js';
import { loadSystem } from './systems/index.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

function defaultJsonPath(startedAt: Date): string {
  return resolve(RESULTS_DIR, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
}

async function bench(settings: BenchSettings, argv: string[]): Promise<number> {
  const systems = await Promise.all(settings.systems.map((name) => loadSystem(name)));
  const runs = plan(settings, systems);
  const progress = new Progress(runs.length, settings.progress);
  const startedAt = new Date();
  const loadBefore = loadAverage();
  const harness = await Harness.open(progress);
  const interrupt = () => {
    progress.log('interrupted: stopping the worker processes and the private redis-server');
    void harness.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  try {
    const machine = describeMachine(await harness.redisVersion());
    const records = await runPlan(harness, settings, runs);
    progress.finish();
    const figures = figureDefs(settings);
    const finishedAt = new Date();
    const results: BenchResults = {
      schema: 1,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationS: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      argv,
      settings,
      machine,
      load: { before: loadBefore, after: loadAverage() },
      systems: systems.map(({ name, label, version }) => ({ name, label, version })),
      figures,
      runs: records,
      summary: summarize(figures, records),
    };
    const path = settings.jsonOut ? resolve(settings.jsonOut) : defaultJsonPath(startedAt);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
    console.log(renderReport(results));
    console.log(`\nRaw results: ${path}`);
    return records.some((record) => record.error || record.problems.length) ? 1 : 0;
  } finally {
    process.off('SIGINT', interrupt);
    await harness.close();
  }
}

/** Runs the bench with command-line arguments; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  let settings: BenchSettings | undefined;
  try {
    settings = parseSettings(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (!settings) {
    console.log(USAGE);
    return 0;
  }
  return bench(settings, argv);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
