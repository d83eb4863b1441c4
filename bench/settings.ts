/**
 * The bench's command line and the sizes each mode uses. Full mode follows the spec of
 * issue 3 (20,000 tasks, 5 s per latency rate, median of 3) and of issue 14 for flow
 * control (1,000 groups, a heavy tenant of `tasks` tasks, 10 s at a rate limit of 5,000/s);
 * `--quick` shrinks sizes so a run takes under two minutes, to check the harness rather
 * than to quote.
 */
import { parseArgs } from 'node:util';
import { SYSTEM_NAMES, type SystemName } from './systems/types.js';

export const SCENARIO_NAMES = ['reference', 'enqueue', 'processing', 'isolated', 'latency', 'memory', 'http', 'flow', 'partitions', 'durability', 'flows'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];
/**
 * Scenarios of what Errand has and the peers lack or have in part (its HTTP gateway, flow
 * control, durability): they need errand among the systems.
 */
const NEEDS_ERRAND: readonly ScenarioName[] = ['http', 'flow', 'durability', 'flows', 'partitions'];

export interface LatencySettings {
  /** Steady enqueue rates, tasks per second. */
  rates: number[];
  /** Measured time at each rate. */
  durationMs: number;
  /** Time at the same rate before measuring (connections, scripts, JIT); not recorded. */
  warmupMs: number;
  /** Concurrency of the idle worker that waits for the tasks. */
  concurrency: number;
}

/** The flow scenario's rate limit (issue 14): 5,000 task starts in any 1,000 ms. */
export const FLOW_RATE_LIMIT = { max: 5_000, perMs: 1_000 } as const;
/** The latency scenario's steady enqueue rates, tasks per second (targets name them). */
export const LATENCY_RATES: readonly number[] = [500, 2_000];

export interface FlowSettings {
  /** Worker concurrency of every flow run. */
  concurrency: number;
  /** Groups the grouped load is spread over, round robin (the tasks are `tasks`). */
  groups: number;
  /** The heavy tenant's backlog in the fairness case. */
  heavyTasks: number;
  /** The light tenant's tasks, sent one by one while the heavy backlog drains. */
  lightTasks: number;
  /**
   * The light tasks go out evenly over this span: about half the time the heavy backlog
   * takes to drain at 40–50k tasks/s, so all of them arrive while it still waits.
   */
  lightSpanMs: number;
  /** The rate limit (Errand's queue setting, BullMQ's limiter). */
  rateLimit: { max: number; perMs: number };
  /** The rate case's measured window, from the first start; its backlog is one window more. */
  rateDurationMs: number;
}

export interface BenchSettings {
  quick: boolean;
  /** Runs of each scenario case per system; the report shows their median and range. */
  reps: number;
  systems: SystemName[];
  scenarios: ScenarioName[];
  /** Where the raw results go; default bench/results/<time>.json. */
  jsonOut: string | undefined;
  progress: boolean;
  /** Tasks per enqueue, processing, memory and HTTP run (HTTP: requests). */
  tasks: number;
  /** Tasks per batch call in bulk enqueue, and when pre-loading. */
  bulkBatch: number;
  /** Enqueue calls in flight in the one-at-a-time enqueue runs (HTTP: connections). */
  inFlight: number;
  /** Worker concurrencies of the processing runs. */
  concurrencies: number[];
  latency: LatencySettings;
  /** Requests per redis-benchmark run in the reference scenario. */
  referenceRequests: number;
  flow: FlowSettings;
  /** The flows scenario (issue 16): children of the fan-in, steps of the chain. */
  flows: { fanIn: number; chain: number };
}

export const USAGE = `Usage: npm run bench -- [options]

Benchmarks Errand, BullMQ and Bee-Queue on a private redis-server (persistence off),
Errand's HTTP gateway against its library (scenario http, Errand only), its flow control
(scenario flow: groups and fairness, Errand only; the rate limit against BullMQ's), its
partitions (scenario partitions: 4 against one on one Redis, Errand only), its durability
(scenario durability, Errand only), and its flows against BullMQ's FlowProducer
(scenario flows: a fan-in of 10,000 children, a chain of 1,000 steps; quick: 2,000 and 200).

  --quick                   smaller sizes, finishes in under 2 minutes (a check, not a quote)
  --only <names>            scenarios, comma-separated: ${SCENARIO_NAMES.join(', ')}
  --systems <names>         systems, comma-separated: ${SYSTEM_NAMES.join(', ')}
  --reps <n>                runs per scenario and system (default 3; the median is reported)
  --tasks <n>               tasks per enqueue/processing/memory/http/flow run (default 20000, quick 5000)
  --latency-concurrency <n> concurrency of the idle worker in latency runs (default 10)
  --json-out <path>         where to write the raw results (default bench/results/<time>.json)
  --no-progress             no progress bar
  -h, --help                this text
`;

export class UsageError extends Error {}

function list<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const names = value.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !allowed.includes(name as T));
  if (unknown.length || names.length === 0) {
    throw new UsageError(`${flag}: unknown ${unknown.join(', ') || '(empty)'}; use any of ${allowed.join(', ')}`);
  }
  return [...new Set(names)] as T[];
}

function whole(flag: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max) {
    throw new UsageError(`${flag}: expected a whole number from ${min} to ${max}, got "${value}"`);
  }
  return number;
}

/** Parses the command line; returns undefined when help was asked for. */
export function parseSettings(argv: string[]): BenchSettings | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        systems: { type: 'string' },
        reps: { type: 'string' },
        tasks: { type: 'string' },
        'latency-concurrency': { type: 'string' },
        'json-out': { type: 'string' },
        'no-progress': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return undefined;
  const quick = values.quick ?? false;
  const systems = values.systems ? list('--systems', values.systems, SYSTEM_NAMES) : [...SYSTEM_NAMES];
  let scenarios = values.only ? list('--only', values.only, SCENARIO_NAMES) : [...SCENARIO_NAMES];
  if (!systems.includes('errand')) {
    const needErrand = scenarios.filter((name) => NEEDS_ERRAND.includes(name));
    if (values.only && needErrand.length) {
      throw new UsageError(`--only ${needErrand.join(', ')}: measures Errand's own features; add errand to --systems or leave it out of --only`);
    }
    scenarios = scenarios.filter((name) => !NEEDS_ERRAND.includes(name));
  }
  const tasks = whole('--tasks', values.tasks, quick ? 5_000 : 20_000, 100, 1_000_000);
  return {
    quick,
    reps: whole('--reps', values.reps, 3, 1, 50),
    systems,
    scenarios,
    jsonOut: values['json-out'],
    progress: !values['no-progress'],
    tasks,
    bulkBatch: 1_000,
    inFlight: 100,
    concurrencies: [1, 10, 100],
    latency: {
      rates: [...LATENCY_RATES],
      durationMs: quick ? 1_000 : 5_000,
      warmupMs: quick ? 300 : 1_000,
      concurrency: whole('--latency-concurrency', values['latency-concurrency'], 10, 1, 1_000),
    },
    referenceRequests: quick ? 20_000 : 100_000,
    flow: {
      concurrency: 100,
      groups: 1_000,
      heavyTasks: tasks,
      lightTasks: 100,
      lightSpanMs: Math.max(1, Math.round(tasks / 100)),
      rateLimit: { ...FLOW_RATE_LIMIT },
      rateDurationMs: quick ? 2_000 : 10_000,
    },
    flows: { fanIn: quick ? 2_000 : 10_000, chain: quick ? 200 : 1_000 },
  };
}
