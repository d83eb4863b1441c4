/**
 * Workers (/workers): every live worker of every queue with its host, pid, concurrency,
 * the tasks it runs and its last heartbeat, kept live by the workers stream.
 */
import { API_BASE, type ErrorBody, type WorkerRow, type WorkersSnapshot } from '../../shared.js';
import { openStream } from '../api.js';
import { fill, h } from '../dom.js';
import { ago, count, duration, time } from '../format.js';
import { link, problemBanner, queueHref, taskHref, type View } from '../ui.js';

const SHOWN_TASKS = 10;

function workerRow(worker: WorkerRow, now: number): HTMLTableRowElement {
  const shown = worker.tasks.slice(0, SHOWN_TASKS);
  return h(
    'tr',
    { 'data-worker': worker.id },
    h('td', { class: 'id' }, h('code', null, worker.id)),
    h('td', null, link(queueHref(worker.queue), worker.queue)),
    h('td', { 'data-col': 'host' }, worker.host),
    h('td', { class: 'num', 'data-col': 'pid' }, String(worker.pid)),
    h('td', { class: 'num', 'data-col': 'running' }, `${count(worker.running)} / ${count(worker.concurrency)}`),
    h(
      'td',
      { class: 'task-links', 'data-col': 'tasks' },
      shown.length ? shown.map((id) => link(taskHref(worker.queue, id), id)) : '—',
      worker.tasks.length > shown.length ? ` and ${count(worker.tasks.length - shown.length)} more` : null,
    ),
    h('td', { class: 'time', 'data-col': 'heartbeat' }, ago(worker.heartbeatAt, now)),
    h('td', { class: 'time' }, time(worker.startedAt)),
    h('td', null, duration(worker.leaseMs)),
  );
}

function render(snapshot: WorkersSnapshot): HTMLElement {
  if (!snapshot.workers.length) {
    return h('p', { class: 'empty' }, 'No live workers. A worker shows here while it runs: it reports with every lease heartbeat.');
  }
  const hosts = new Set(snapshot.workers.map((worker) => worker.host)).size;
  const running = snapshot.workers.reduce((sum, worker) => sum + worker.running, 0);
  const slots = snapshot.workers.reduce((sum, worker) => sum + worker.concurrency, 0);
  return h(
    'section',
    { class: 'panel' },
    h('p', { class: 'hint', 'data-workers-summary': true }, `${count(snapshot.workers.length)} worker${snapshot.workers.length === 1 ? '' : 's'} on ${count(hosts)} host${hosts === 1 ? '' : 's'}, running ${count(running)} tasks in ${count(slots)} slots.`),
    h(
      'table',
      { class: 'grid-table workers' },
      h(
        'thead',
        null,
        h('tr', null, ['worker', 'queue', 'host', 'pid', 'running / concurrency', 'current tasks', 'last heartbeat', 'started', 'lease'].map((label) => h('th', null, label))),
      ),
      h('tbody', null, snapshot.workers.map((worker) => workerRow(worker, snapshot.now))),
    ),
  );
}

export const workersView: View = {
  pattern: /^\/workers$/,
  nav: { label: 'Workers', href: '/workers' },
  title: () => 'Workers',
  render(ctx) {
    const problem = h('div', { class: 'problem' });
    const body = h('div', { 'data-view': 'workers' }, h('p', { class: 'loading' }, 'Loading…'));
    fill(ctx.root, h('h1', null, 'Workers'), problem, body);
    ctx.onLeave(
      openStream(`${API_BASE}/streams/workers`, {
        live: ctx.setLive,
        events: {
          snapshot: (snapshot: WorkersSnapshot) => {
            fill(problem);
            fill(body, render(snapshot));
          },
          problem: (error: ErrorBody) => fill(problem, problemBanner(error.error.message)),
        },
      }),
    );
  },
};
