/**
 * What a scenario is: named cases, each producing figures (metrics) per run. The runner
 * repeats each case for each system, alternating systems; the report reads the metric
 * definitions to print them.
 */
import type { Harness } from '../harness.js';
import type { BenchSettings, ScenarioName } from '../settings.js';
import type { BenchSystem, SystemName } from '../systems/types.js';

export interface MetricDef {
  key: string;
  label: string;
  unit: string;
  /** Which way is better: it decides how targets read the ratio, not the ratio itself. */
  better: 'higher' | 'lower';
  /** Decimals shown. */
  digits: number;
  /**
   * In a side-by-side scenario: the key of the same figure measured the other way in the
   * same run; the report shows both in one row, with their ratio.
   */
  versus?: string;
}

export interface Sample {
  metrics: Record<string, number>;
  /** Raw figures kept in the JSON (counts, rates reached, cross-checks). */
  detail: Record<string, unknown>;
  /** Correctness checks that failed (lost or duplicated tasks, wrong counts, errors). */
  problems: string[];
}

export interface ScenarioCase {
  id: string;
  label: string;
  metrics: MetricDef[];
  /** The systems this case runs for, among the selected ones (default: the scenario's). */
  systems?: readonly SystemName[];
  /** Runs once; for per-system scenarios `system` is set. */
  run(harness: Harness, system: BenchSystem | undefined): Promise<Sample>;
}

export interface Scenario {
  name: ScenarioName;
  title: string;
  /** False for machine references that involve no library (run once per repetition). */
  perSystem: boolean;
  /** The one system it runs for (a face only that system has); default every selected one. */
  only?: SystemName;
  /** The systems it runs for, of those selected (a face not every peer has); default every one. */
  among?: readonly SystemName[];
  /**
   * Column titles of a scenario comparing two ways of doing one thing: each figure with a
   * `versus` becomes a row "this | versus | this/versus".
   */
  sideBySide?: readonly [string, string];
  /** A line printed under the scenario's table (who is left out, and why). */
  note?: string;
  cases(settings: BenchSettings): ScenarioCase[];
}

export function requireSystem(system: BenchSystem | undefined): BenchSystem {
  if (!system) throw new Error('this scenario runs per system');
  return system;
}

export function emptySample(): Sample {
  return { metrics: {}, detail: {}, problems: [] };
}
