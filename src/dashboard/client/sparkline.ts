/**
 * A small bar chart of counts per minute (a topic's messages published over the last
 * hour), sized to sit in a table cell, with a tooltip per minute and a summary label.
 */
import { s } from './dom.js';
import { clock, count } from './format.js';

const WIDTH = 240;
const HEIGHT = 28;

export function sparkline(firstMinute: number, perMinute: readonly number[], what: string): SVGSVGElement {
  const max = Math.max(0, ...perMinute);
  const total = perMinute.reduce((sum, n) => sum + n, 0);
  const slot = WIDTH / Math.max(perMinute.length, 1);
  const bars = perMinute.map((n, index) => {
    const height = max > 0 && n > 0 ? Math.max(1, (n / max) * (HEIGHT - 2)) : 0;
    return s(
      'g',
      { class: 'minute' },
      s('title', null, `${clock(firstMinute + index)}: ${count(n)} ${what}`),
      s('rect', { class: 'hit', x: index * slot, y: 0, width: slot, height: HEIGHT }),
      height > 0 && s('rect', { class: 'bar', x: index * slot + 0.5, y: HEIGHT - height, width: Math.max(1, slot - 1), height }),
    );
  });
  return s(
    'svg',
    {
      class: 'sparkline',
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      width: WIDTH,
      height: HEIGHT,
      role: 'img',
      'aria-label': `${count(total)} ${what} in the last ${perMinute.length} minutes, at most ${count(max)} in one minute`,
    },
    s('line', { class: 'base', x1: 0, x2: WIDTH, y1: HEIGHT - 0.5, y2: HEIGHT - 0.5 }),
    bars,
  );
}
