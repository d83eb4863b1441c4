/**
 * What commands print: aligned tables and key/value blocks for people, one JSON document
 * per line for scripts (`--json`). Results go to stdout; progress and errors to stderr, so
 * a pipe only ever carries results.
 */

export type Align = 'left' | 'right';

export interface Column<Row> {
  header: string;
  align?: Align;
  value: (row: Row) => string;
}

/** Columns separated by two spaces, headers first, numbers right-aligned. */
export function formatTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((line) => line[i]!.length)));
  const render = (line: readonly string[]) =>
    line
      .map((cell, i) => (columns[i]!.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [render(columns.map((column) => column.header)), ...cells.map(render)].join('\n');
}

/** `label  value` lines with labels padded to one width; multi-line values stay indented. */
export function formatFields(fields: readonly [label: string, value: string | undefined][]): string {
  const shown = fields.filter((field): field is [string, string] => field[1] !== undefined);
  const width = Math.max(0, ...shown.map(([label]) => label.length));
  return shown
    .map(([label, value]) => `${label.padEnd(width)}  ${value.split('\n').join(`\n${' '.repeat(width + 2)}`)}`)
    .join('\n');
}

/** JSON on one line when short, indented otherwise. */
export function formatJson(value: unknown): string {
  const line = JSON.stringify(value) ?? 'undefined';
  return line.length <= 80 ? line : JSON.stringify(value, null, 2);
}

/** An epoch-ms time as ISO 8601 (UTC), or undefined. */
export function formatTime(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

export function printLine(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** One JSON document on one line: what `--json` prints. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
