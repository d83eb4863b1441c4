/**
 * How task progress and log lines are printed for people: a bar for a progress that is a
 * number from 0 to 100 (JSON otherwise), and log lines with their time and attempt, their
 * control characters shown as escapes so a line cannot move the cursor, recolour the
 * terminal or hide what came before.
 */
import type { TaskLogLine } from '../index.js';
import { formatJson, formatTime } from './output.js';

const BAR_WIDTH = 20;

/** `[##########..........]  50%` for 0-100, the JSON otherwise. */
export function formatProgress(progress: unknown): string {
  if (typeof progress === 'number' && progress >= 0 && progress <= 100) {
    const filled = Math.round((progress / 100) * BAR_WIDTH);
    return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(Math.round(progress * 10) / 10).padStart(3)}%`;
  }
  return formatJson(progress);
}

/** Control characters (other than newline and tab) as \u escapes. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `<time>  #<attempt>  <message>`; a message's further lines indented under its first. */
export function formatLogLine(line: TaskLogLine): string {
  const head = `${formatTime(line.at)}  #${line.attempt}  `;
  return head + printable(line.message).split('\n').join(`\n${' '.repeat(head.length)}`);
}

export function formatDropped(dropped: number): string {
  return `… ${dropped} earlier line${dropped === 1 ? '' : 's'} dropped (a task's log keeps its last 1,000 lines and 64 KiB)`;
}
