/**
 * A progress bar on stderr for long commands, shown only when stderr is a terminal (a log
 * file or a pipe gets nothing, not a stream of carriage returns). Redraws at most every
 * 100 ms; `done()` clears it so the result prints on a clean line.
 */

const WIDTH = 30;
const REDRAW_MS = 100;

/** `[#########.....................]  3000/10000  30%  label` */
export function renderBar(done: number, total: number, label: string): string {
  const share = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(share * WIDTH);
  const percent = String(Math.floor(share * 100)).padStart(3);
  return `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}]  ${done}/${total}  ${percent}%  ${label}`;
}

export class Progress {
  private done = 0;
  private drawnAt = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly enabled: boolean;

  constructor(
    private readonly total: number,
    private readonly label: string,
    stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.stream = stream;
    this.enabled = stream.isTTY === true;
  }

  advance(count: number): void {
    this.done += count;
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.drawnAt < REDRAW_MS && this.done < this.total) return;
    this.drawnAt = now;
    this.stream.write(`\r${renderBar(this.done, this.total, this.label)}`);
  }

  /** Clears the bar (the command prints its own summary). */
  finish(): void {
    if (this.enabled && this.drawnAt > 0) this.stream.write('\r\x1b[2K');
  }
}
