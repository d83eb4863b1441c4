/**
 * The throughput chart: completed and failed tasks per minute over the last hour as
 * stacked bars in an SVG, with a scale, minute labels, a legend and a tooltip per minute.
 */
import type { MinutePoint } from '../shared.js';
import { s } from './dom.js';
import { clock, count } from './format.js';

const WIDTH = 1100;
const HEIGHT = 200;
const LEFT = 44;
const RIGHT = 8;
const TOP = 10;
const BOTTOM = 24;

/** The smallest 2, 4 or 10 times a power of ten that is at least `n` (at least 2): its half is a whole number too. */
function niceMax(n: number): number {
  if (n <= 2) return 2;
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 4, 10]) if (step * power >= n) return step * power;
  return 10 * power;
}

export function throughputChart(points: readonly MinutePoint[]): SVGSVGElement {
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const max = niceMax(Math.max(0, ...points.map((p) => p.completed + p.failed)));
  const y = (value: number) => TOP + plotHeight - (value / max) * plotHeight;
  const slot = plotWidth / Math.max(points.length, 1);
  const barWidth = Math.max(1, slot - 2);
  const completed = points.reduce((sum, p) => sum + p.completed, 0);
  const failed = points.reduce((sum, p) => sum + p.failed, 0);

  const grid = [0, max / 2, max].map((value) =>
    s(
      'g',
      { class: 'grid' },
      s('line', { x1: LEFT, x2: WIDTH - RIGHT, y1: y(value), y2: y(value) }),
      s('text', { x: LEFT - 6, y: y(value) + 4, 'text-anchor': 'end' }, count(value)),
    ),
  );
  const bars = points.map((point, index) => {
    const x = LEFT + index * slot + 1;
    return s(
      'g',
      { class: 'minute' },
      s('title', null, `${clock(point.minute)}: ${count(point.completed)} completed, ${count(point.failed)} failed`),
      s('rect', { class: 'hit', x: LEFT + index * slot, y: TOP, width: slot, height: plotHeight }),
      point.completed > 0 && s('rect', { class: 'bar-completed', x, y: y(point.completed), width: barWidth, height: y(0) - y(point.completed) }),
      point.failed > 0 &&
        s('rect', { class: 'bar-failed', x, y: y(point.completed + point.failed), width: barWidth, height: y(point.completed) - y(point.completed + point.failed) }),
    );
  });
  const labels = points
    .map((point, index) => ({ point, index }))
    .filter(({ index }) => index % 15 === 0 || index === points.length - 1)
    .map(({ point, index }) =>
      s('text', { class: 'axis', x: LEFT + index * slot + slot / 2, y: HEIGHT - 6, 'text-anchor': 'middle' }, clock(point.minute)),
    );

  return s(
    'svg',
    {
      class: 'chart',
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: 'img',
      'aria-label': `Tasks finished per minute over the last hour: ${count(completed)} completed, ${count(failed)} failed`,
    },
    grid,
    bars,
    labels,
    completed + failed === 0 &&
      s('text', { class: 'empty', x: LEFT + plotWidth / 2, y: TOP + plotHeight / 2, 'text-anchor': 'middle' }, 'No task finished in the last hour'),
  );
}
