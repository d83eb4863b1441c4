/**
 * The shape of a bench's raw results (written as JSON under bench/results/) and the
 * summary computed from them: per figure and system, the median with min and max.
 */
import type { MachineInfo } from './machine.js';
import type { MetricDef } from './scenarios/types.js';
import type { BenchSettings, ScenarioName } from './settings.js';
import { spread, type Spread } from './stats.js';
import type { SystemName } from './systems/types.js';

/** Figures of scenarios that involve no library are filed under this name. */
export const REFERENCE = 'reference';
export type Subject = SystemName | typeof REFERENCE;

export interface RunRecord {
  scenario: ScenarioName;
  case: string;
  subject: Subject;
  rep: number;
  startedAt: string;
  /** 1-minute load average when the run started. */
  load1: number;
  metrics: Record<string, number>;
  detail: Record<string, unknown>;
  problems: string[];
  /** Set when the run threw; its metrics are then empty. */
  error?: string;
}

export interface FigureDef extends MetricDef {
  scenario: ScenarioName;
  case: string;
}

export interface BenchResults {
  schema: 1;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  argv: string[];
  settings: BenchSettings;
  machine: MachineInfo;
  load: { before: number[]; after: number[] };
  systems: { name: SystemName; label: string; version: string }[];
  figures: FigureDef[];
  runs: RunRecord[];
  /** figure key → subject → median/min/max over the runs that did not throw. */
  summary: Record<string, Partial<Record<Subject, Spread>>>;
}

export function summarize(figures: FigureDef[], runs: RunRecord[]): BenchResults['summary'] {
  const summary: BenchResults['summary'] = {};
  for (const figure of figures) {
    const bySubject: Partial<Record<Subject, Spread>> = {};
    const subjects = new Set(runs.filter((run) => run.case === figure.case).map((run) => run.subject));
    for (const subject of subjects) {
      const values = runs
        .filter((run) => run.case === figure.case && run.subject === subject && !run.error)
        .map((run) => run.metrics[figure.key])
        .filter((value): value is number => value !== undefined);
      const result = spread(values);
      if (result) bySubject[subject] = result;
    }
    summary[figure.key] = bySubject;
  }
  return summary;
}
