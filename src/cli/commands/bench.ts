/**
 * `errand bench [flags]`: the benchmark (bench/run.ts: Errand vs BullMQ and Bee-Queue on a
 * private redis-server), with its own flags passed through (`--quick`, `--only`, ...; see
 * `errand bench --help`). Only in a checkout with its development dependencies; see
 * bench-loader.ts. Exit codes: 0, 1 when a run failed or a correctness check did not hold
 * (the report says which), 2 for a bad flag.
 */
import { checkSystemsInstalled, loadBench } from '../bench-loader.js';
import { CliError } from '../cli-error.js';
import { printLine } from '../output.js';
import type { RegisterCommand } from './index.js';

export const registerBench: RegisterCommand = (program, cli) => {
  program
    .command('bench')
    .summary('benchmark Errand against BullMQ and Bee-Queue (in a checkout)')
    .description("benchmark Errand against BullMQ and Bee-Queue on a private redis-server; its flags are the benchmark's own")
    .argument('[flags...]', "the benchmark's flags, e.g. --quick (see: errand bench --help)")
    // Every flag, --help included, goes to the benchmark's own parser.
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText('after', '\nThe flags: errand bench --help. The figures and how to read them: docs/performance.md.')
    .action(async (flags: string[]) => {
      if (cli.json) {
        throw new CliError('USAGE', 'errand bench prints a report, not --json: its raw results are written as JSON (--json-out <path>, default bench/results/<time>.json)', 2);
      }
      const bench = await loadBench();
      let settings: { systems: readonly string[] } | undefined;
      try {
        settings = bench.parseSettings(flags);
      } catch (error) {
        if (!(error instanceof bench.UsageError)) throw error;
        throw new CliError('USAGE', `${error.message} (see: errand bench --help)`, 2, { cause: error });
      }
      if (!settings) {
        printLine(bench.USAGE.replace(/^Usage: npm run bench -- /, 'Usage: errand bench ').trimEnd());
        return;
      }
      checkSystemsInstalled(settings.systems);
      const code = await bench.main(flags);
      if (code === 2) throw new CliError('USAGE', 'the benchmark refused its flags (see above; errand bench --help)', 2);
      if (code !== 0) throw new CliError('BENCH_FAILED', 'some benchmark runs failed or broke a correctness check: see the report above', 1);
    });
};
