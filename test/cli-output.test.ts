// The CLI's pure pieces: table layout, the progress bar (drawn only on a terminal) and the
// throughput arithmetic behind `errand stats`.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { throughput, type QueueStats } from '../src/admin/stats.js';
import { formatFields, formatTable } from '../src/cli/output.js';
import { Progress, renderBar } from '../src/cli/progress.js';

describe('formatTable', () => {
  it('pads columns to their widest cell and right-aligns numbers', () => {
    const table = formatTable(
      [
        { header: 'QUEUE', value: (row: { name: string; n: number }) => row.name },
        { header: 'N', align: 'right', value: (row) => String(row.n) },
      ],
      [
        { name: 'emails', n: 5 },
        { name: 'a', n: 12345 },
      ],
    );
    expect(table).toBe(['QUEUE       N', 'emails      5', 'a       12345'].join('\n'));
  });

  it('indents the continuation lines of a multi-line field and skips absent ones', () => {
    expect(formatFields([['id', '7'], ['result', undefined], ['payload', '{\n  "a": 1\n}']])).toBe(
      ['id       7', 'payload  {', '           "a": 1', '         }'].join('\n'),
    );
  });
});

describe('progress', () => {
  it('renders the share done', () => {
    expect(renderBar(3_000, 10_000, 'enqueueing')).toBe(`[${'#'.repeat(9)}${'.'.repeat(21)}]  3000/10000   30%  enqueueing`);
    expect(renderBar(10, 10, 'x')).toBe(`[${'#'.repeat(30)}]  10/10  100%  x`);
  });

  it('draws on a terminal and clears at the end', () => {
    const stream = Object.assign(new PassThrough(), { isTTY: true }) as unknown as NodeJS.WriteStream;
    let written = '';
    (stream as unknown as PassThrough).on('data', (chunk: Buffer) => (written += chunk.toString()));
    const progress = new Progress(4, 'work', stream);
    progress.advance(4);
    progress.finish();
    expect(written).toBe(`\r${renderBar(4, 4, 'work')}\r\x1b[2K`);
  });

  it('writes nothing when the stream is not a terminal', () => {
    const stream = new PassThrough() as unknown as NodeJS.WriteStream;
    let written = '';
    (stream as unknown as PassThrough).on('data', (chunk: Buffer) => (written += chunk.toString()));
    const progress = new Progress(4, 'work', stream);
    progress.advance(4);
    progress.finish();
    expect(written).toBe('');
  });
});

describe('throughput', () => {
  const reading = (sampledAt: number, enqueued: number, completed: number, failed: number): QueueStats => ({
    name: 'q',
    waiting: 0,
    delayed: 0,
    active: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
    paused: false,
    groups: 0,
    dependencies: 0,
    workers: 0,
    totals: { enqueued, completed, failed },
    sampledAt,
  });

  it('divides the counters’ growth by the seconds between readings', () => {
    expect(throughput(reading(1_000, 10, 4, 0), reading(3_000, 30, 10, 1))).toEqual({
      enqueuedPerSec: 10,
      completedPerSec: 3,
      failedPerSec: 0.5,
    });
  });

  it('has no rate without an earlier reading or elapsed time, and none below zero', () => {
    expect(throughput(undefined, reading(1_000, 1, 1, 1))).toBeNull();
    expect(throughput(reading(1_000, 1, 1, 1), reading(1_000, 2, 2, 2))).toBeNull();
    expect(throughput(reading(1_000, 50, 50, 50), reading(2_000, 0, 0, 0))).toEqual({ enqueuedPerSec: 0, completedPerSec: 0, failedPerSec: 0 });
  });
});
