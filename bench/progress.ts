/**
 * The progress bar on stderr: how many runs are done of how many, what runs now, time
 * spent and left. On a terminal it redraws one line; elsewhere (CI, a file) it prints one
 * line per run. `log` prints a message without tearing the bar.
 */

const WIDTH = 24;

export class Progress {
  private done = 0;
  private label = '';
  private readonly startedMs = Date.now();
  private readonly tty: boolean;

  constructor(
    private readonly total: number,
    private readonly enabled = true,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = enabled && Boolean(stream.isTTY);
  }

  /** A run starts. */
  begin(label: string): void {
    this.label = label;
    if (!this.enabled) return;
    if (this.tty) this.draw();
    else this.stream.write(`[${this.done + 1}/${this.total}] ${label}\n`);
  }

  /** The current run ended. */
  end(): void {
    this.done = Math.min(this.total, this.done + 1);
    if (this.tty) this.draw();
  }

  log(line: string): void {
    if (this.tty) this.stream.write('\r\x1b[2K');
    this.stream.write(`${line}\n`);
    if (this.tty) this.draw();
  }

  finish(): void {
    if (this.tty) this.stream.write('\r\x1b[2K');
    if (this.enabled) this.stream.write(`${this.done}/${this.total} runs in ${formatDuration(Date.now() - this.startedMs)}\n`);
  }

  private draw(): void {
    const share = this.total ? this.done / this.total : 1;
    const filled = Math.round(share * WIDTH);
    const spentMs = Date.now() - this.startedMs;
    const leftMs = this.done ? (spentMs / this.done) * (this.total - this.done) : undefined;
    const eta = leftMs === undefined ? '' : ` ~${formatDuration(leftMs)} left`;
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}]`;
    const text = `${bar} ${this.done}/${this.total} ${formatDuration(spentMs)}${eta}  ${this.label}`;
    const columns = this.stream.columns || 120;
    this.stream.write(`\r\x1b[2K${text.slice(0, columns - 1)}`);
  }
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${String(seconds % 60).padStart(2, '0')}`;
}
