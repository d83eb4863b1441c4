/**
 * Runs the selected scenarios: each case `reps` times for each system it runs for, rotating
 * which system goes first in every repetition (so none always runs on a fresher or a more
 * loaded machine), flushing the private Redis after every run. A run that throws is recorded with
 * its error, its worker process is reset, and the bench goes on.
 */
import { Harness } from './harness.js';
import { loadAverage } from './machine.js';
import { REFERENCE, type FigureDef, type RunRecord } from './results.js';
import { SCENARIOS } from './scenarios/index.js';
import type { Sample, Scenario } from './scenarios/types.js';
import type { BenchSettings } from './settings.js';
import type { BenchSystem } from './systems/types.js';

export interface PlannedRun {
  scenario: Scenario;
  caseIndex: number;
  rep: number;
  system: BenchSystem | undefined;
}

/** Every run in the order it will happen. */
export function plan(settings: BenchSettings, systems: BenchSystem[]): PlannedRun[] {
  const runs: PlannedRun[] = [];
  for (const name of settings.scenarios) {
    const scenario = SCENARIOS[name];
    scenario.cases(settings).forEach((scenarioCase, caseIndex) => {
      for (let rep = 0; rep < settings.reps; rep++) {
        if (!scenario.perSystem) {
          runs.push({ scenario, caseIndex, rep, system: undefined });
          continue;
        }
        const subjects = systems.filter(
          (system) =>
            (scenario.only ? system.name === scenario.only : !scenario.among || scenario.among.includes(system.name)) &&
            (!scenarioCase.systems || scenarioCase.systems.includes(system.name)),
        );
        const shift = (rep + caseIndex) % Math.max(1, subjects.length);
        for (const system of [...subjects.slice(shift), ...subjects.slice(0, shift)]) {
          runs.push({ scenario, caseIndex, rep, system });
        }
      }
    });
  }
  return runs;
}

export function figureDefs(settings: BenchSettings): FigureDef[] {
  return settings.scenarios.flatMap((name) =>
    SCENARIOS[name].cases(settings).flatMap((scenarioCase) =>
      scenarioCase.metrics.map((metric) => ({ ...metric, scenario: name, case: scenarioCase.id })),
    ),
  );
}

export async function runPlan(harness: Harness, settings: BenchSettings, runs: PlannedRun[]): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  const casesByScenario = new Map(settings.scenarios.map((name) => [name, SCENARIOS[name].cases(settings)]));
  for (const planned of runs) {
    const scenarioCase = casesByScenario.get(planned.scenario.name)![planned.caseIndex]!;
    const who = planned.system?.label ?? 'redis-benchmark';
    harness.progress.begin(`${scenarioCase.label} · ${who} · run ${planned.rep + 1}/${settings.reps}`);
    const record: RunRecord = {
      scenario: planned.scenario.name,
      case: scenarioCase.id,
      subject: planned.system?.name ?? REFERENCE,
      rep: planned.rep,
      startedAt: new Date().toISOString(),
      load1: loadAverage()[0],
      metrics: {},
      detail: {},
      problems: [],
    };
    try {
      const sample: Sample = await scenarioCase.run(harness, planned.system);
      Object.assign(record, sample);
      for (const problem of sample.problems) harness.progress.log(`! ${scenarioCase.label} · ${who}: ${problem}`);
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
      harness.progress.log(`✗ ${scenarioCase.label} · ${who}: ${record.error}`);
      if (planned.system) await harness.resetWorker(planned.system.name);
    }
    await harness.flush();
    records.push(record);
    harness.progress.end();
  }
  return records;
}
