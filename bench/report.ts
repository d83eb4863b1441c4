/**
 * Turns results into the printed report: one Markdown table per scenario with the median
 * and min–max of each system that ran in it and the ratio Errand/peer for every figure (a
 * one-system scenario gets its own table without peer columns: its two sides and their
 * ratio), the scenario's note, the targets of issues 3, 14, 16, 17 and 18, the problems
 * any run met, and the machine and load it ran on. The same text pastes into docs/performance.md.
 */
import { REFERENCE, type BenchResults, type FigureDef } from './results.js';
import { SCENARIOS } from './scenarios/index.js';
import type { Scenario } from './scenarios/types.js';
import { spread, type Spread } from './stats.js';
import { checkTargets } from './targets.js';

function number(value: number, digits: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function cell(result: Spread | undefined, digits: number): string {
  if (!result) return '—';
  if (result.n === 1) return number(result.median, digits);
  return `${number(result.median, digits)} (${number(result.min, digits)}–${number(result.max, digits)})`;
}

/** The ratio of two medians, e.g. Errand's over a peer's. */
function ratio(mine: Spread | undefined, other: Spread | undefined): string {
  if (!mine || !other || other.median === 0 || !Number.isFinite(mine.median / other.median)) return '—';
  return `${(mine.median / other.median).toFixed(2)}×`;
}

/** A Markdown table with its columns padded, so it reads in a terminal too. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => `| ${cells.map((text, column) => text.padEnd(widths[column]!)).join(' | ')} |`;
  const rule = `|${widths.map((width, column) => (column === 0 ? '-'.repeat(width + 2) : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function figureLabel(figure: FigureDef): string {
  return `${figure.label} (${figure.unit} ${figure.better === 'higher' ? '↑' : '↓'})`;
}

/**
 * A scenario run for one system only: no peer columns. Side by side, each figure with a
 * `versus` is a row "this | versus | this/versus"; otherwise one column of medians.
 */
function oneSystemTable(results: BenchResults, scenario: Scenario, figures: FigureDef[]): string {
  const subject = scenario.only!;
  const median = (key: string) => results.summary[key]?.[subject];
  if (!scenario.sideBySide) {
    const label = results.systems.find((system) => system.name === subject)?.label ?? subject;
    return table(['Figure', label], figures.map((figure) => [figureLabel(figure), cell(median(figure.key), figure.digits)]));
  }
  const [mine, other] = scenario.sideBySide;
  const shownBeside = new Set(figures.map((figure) => figure.versus).filter(Boolean));
  const rows = figures
    .filter((figure) => !shownBeside.has(figure.key))
    .map((figure) => {
      if (!figure.versus) return [figureLabel(figure), cell(median(figure.key), figure.digits), '—', '—'];
      return [figureLabel(figure), cell(median(figure.key), figure.digits), cell(median(figure.versus), figure.digits), ratio(median(figure.key), median(figure.versus))];
    });
  return table(['Figure', mine, other, `${mine}/${other}`], rows);
}

/** Median Redis CPU µs per task of the timed part, for cases that record it. */
function redisCpuRows(results: BenchResults): string[][] {
  const cpuOf = (run: BenchResults['runs'][number]) => (run.detail.redis as { cpuUsPerTask?: number } | undefined)?.cpuUsPerTask;
  const cases = [...new Set(results.runs.filter((run) => cpuOf(run) !== undefined).map((run) => run.case))];
  return cases.map((id) => {
    const label = results.figures.find((figure) => figure.case === id)?.label ?? id;
    return [
      label,
      ...results.systems.map((system) => {
        const values = results.runs.filter((run) => run.case === id && run.subject === system.name && !run.error).map((run) => cpuOf(run) ?? Number.NaN);
        return cell(spread(values), 1);
      }),
    ];
  });
}

/** One column per system that ran in the scenario, and the ratio Errand/peer for each peer. */
function systemsTable(results: BenchResults, figures: FigureDef[]): string {
  const cases = new Set(figures.map((figure) => figure.case));
  const systems = results.systems.filter((system) => results.runs.some((run) => cases.has(run.case) && run.subject === system.name));
  const errand = systems.find((system) => system.name === 'errand');
  const peers = systems.filter((system) => system.name !== 'errand');
  const header = ['Figure', ...systems.map((system) => system.label), ...(errand ? peers.map((peer) => `Errand/${peer.label.split(' ')[0]}`) : [])];
  const rows = figures.map((figure) => {
    const medians = results.summary[figure.key] ?? {};
    return [
      figureLabel(figure),
      ...systems.map((system) => cell(medians[system.name], figure.digits)),
      ...(errand ? peers.map((peer) => ratio(medians.errand, medians[peer.name])) : []),
    ];
  });
  return table(header, rows);
}

export function renderReport(results: BenchResults): string {
  const out: string[] = [];
  const systems = results.systems;

  for (const name of results.settings.scenarios) {
    const scenario = SCENARIOS[name];
    const figures = results.figures.filter((figure) => figure.scenario === name);
    if (!figures.length) continue;
    const labelOf = (name: string) => systems.find((system) => system.name === name)?.label ?? name;
    const only = scenario.only ? labelOf(scenario.only) : scenario.among?.map(labelOf).join(' and ');
    out.push(`### ${scenario.title}${only ? ` (${only} only)` : ''}`, '');
    if (!scenario.perSystem) {
      const rows = figures.map((figure) => [figureLabel(figure), cell(results.summary[figure.key]?.[REFERENCE], figure.digits)]);
      out.push(table(['Figure', 'Median (min–max)'], rows), '');
    } else if (scenario.only) {
      out.push(oneSystemTable(results, scenario, figures), '');
    } else {
      out.push(systemsTable(results, figures), '');
    }
    if (scenario.note) out.push(scenario.note, '');
  }

  const redisRows = redisCpuRows(results);
  if (redisRows.length) {
    out.push('### Redis CPU per task (µs, median; where Redis spends its time, to find the bound)', '');
    out.push(table(['Case', ...systems.map((system) => system.label)], redisRows), '');
  }

  const targets = checkTargets(results);
  if (targets.length) {
    out.push('### Targets (issues 3, 14, 16, 17 and 18)', '');
    for (const target of targets) out.push(`- ${target.met ? '[met]   ' : '[missed]'} ${target.text}: ${target.measured}`);
    out.push('');
  }

  const troubled = results.runs.filter((run) => run.error || run.problems.length);
  if (troubled.length) {
    out.push('### Problems', '');
    for (const run of troubled) {
      const what = `${run.case} · ${run.subject} · run ${run.rep + 1}`;
      if (run.error) out.push(`- ${what}: failed: ${run.error}`);
      for (const problem of run.problems) out.push(`- ${what}: ${problem}`);
    }
    out.push('');
  }

  const { machine, settings, load } = results;
  out.push(
    `Median of ${settings.reps} runs per system (min–max in brackets); ratios are Errand's median over the peer's (side by side: the first column's over the second's).`,
    `Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB; ${machine.os}; Node ${machine.node}; Redis ${machine.redis}.`,
    `Load average (1/5/15 min): ${load.before.join(' / ')} before, ${load.after.join(' / ')} after.`,
    `Mode: ${settings.quick ? 'quick (a harness check, not a quote)' : 'full'}; ${settings.tasks.toLocaleString('en-US')} tasks per run; latency ${settings.latency.durationMs / 1000} s per rate, idle worker at concurrency ${settings.latency.concurrency}; took ${Math.round(results.durationS)} s.`,
  );
  return out.join('\n');
}
