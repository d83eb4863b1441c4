/**
 * Overview (/): every queue with its counts, paused state and last hour, the totals, and
 * the last hour's throughput chart, kept live by the overview stream.
 */
import { API_BASE, type ErrorBody, type OverviewSnapshot, type QueueRow } from '../../shared.js';
import { openStream } from '../api.js';
import { fill, h } from '../dom.js';
import { count, failureRate } from '../format.js';
import { card, chartPanel, link, problemBanner, queueHref, stateBadge, type View } from '../ui.js';

const COLUMNS = ['waiting', 'active', 'delayed', 'completed', 'failed', 'cancelled'] as const;

function queueRow(row: QueueRow): HTMLTableRowElement {
  return h(
    'tr',
    { 'data-queue': row.name },
    h('td', { class: 'name' }, link(queueHref(row.name), row.name)),
    h('td', null, stateBadge(row.paused ? 'paused' : 'running')),
    COLUMNS.map((column) => h('td', { class: `num${column === 'failed' && row.failed > 0 ? ' bad' : ''}`, 'data-col': column }, count(row[column]))),
    h('td', { class: 'num', 'data-col': 'hour-completed' }, count(row.lastHour.completed)),
    h('td', { class: 'num', 'data-col': 'hour-failed' }, count(row.lastHour.failed)),
    h('td', { class: 'num', 'data-col': 'failure-rate' }, failureRate(row.lastHour.completed, row.lastHour.failed)),
  );
}

function render(snapshot: OverviewSnapshot): HTMLElement[] {
  const { totals, lastHour } = snapshot;
  const cards = h(
    'section',
    { class: 'cards', 'data-totals': true },
    card('waiting', count(totals.waiting), { key: 'waiting' }),
    card('active', count(totals.active), { key: 'active' }),
    card('delayed', count(totals.delayed), { key: 'delayed' }),
    card('completed (retained)', count(totals.completed), { key: 'completed' }),
    card('failed (retained)', count(totals.failed), { key: 'failed', tone: totals.failed > 0 ? 'bad' : undefined }),
    card('finished, last hour', count(lastHour.completed + lastHour.failed), { key: 'hour', hint: `${count(lastHour.failed)} failed` }),
    card('failure rate, last hour', failureRate(lastHour.completed, lastHour.failed), { key: 'failure-rate' }),
  );
  const table = snapshot.queues.length
    ? h(
        'table',
        { class: 'grid-table queues' },
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            h('th', null, 'queue'),
            h('th', null, 'state'),
            COLUMNS.map((column) => h('th', { class: 'num' }, column)),
            h('th', { class: 'num' }, 'done 1 h'),
            h('th', { class: 'num' }, 'failed 1 h'),
            h('th', { class: 'num' }, 'failure rate'),
          ),
        ),
        h('tbody', null, snapshot.queues.map(queueRow)),
        h(
          'tfoot',
          null,
          h(
            'tr',
            { 'data-queue-totals': true },
            h('th', null, `${count(snapshot.queues.length)} queue${snapshot.queues.length === 1 ? '' : 's'}`),
            h('th', null, ''),
            COLUMNS.map((column) => h('th', { class: 'num', 'data-col': column }, count(totals[column]))),
            h('th', { class: 'num', 'data-col': 'hour-completed' }, count(lastHour.completed)),
            h('th', { class: 'num', 'data-col': 'hour-failed' }, count(lastHour.failed)),
            h('th', { class: 'num', 'data-col': 'failure-rate' }, failureRate(lastHour.completed, lastHour.failed)),
          ),
        ),
      )
    : h('p', { class: 'empty' }, 'No queues yet. A queue appears here once a task is enqueued on it.');
  return [cards, chartPanel('Finished per minute, last hour (all queues)', snapshot.throughput), h('section', { class: 'panel' }, h('h2', null, 'Queues'), table)];
}

export const overviewView: View = {
  pattern: /^\/$/,
  nav: { label: 'Overview', href: '/' },
  title: () => 'Overview',
  render(ctx) {
    const problem = h('div', { class: 'problem' });
    const body = h('div', { 'data-view': 'overview' }, h('p', { class: 'loading' }, 'Loading…'));
    fill(ctx.root, h('h1', null, 'Queues'), problem, body);
    ctx.onLeave(
      openStream(`${API_BASE}/streams/overview`, {
        live: ctx.setLive,
        events: {
          snapshot: (snapshot: OverviewSnapshot) => {
            fill(problem);
            fill(body, render(snapshot));
          },
          problem: (body: ErrorBody) => fill(problem, problemBanner(body.error.message)),
        },
      }),
    );
  },
};
