/**
 * Schedules (/schedules): every schedule of every queue with its cadence, state, next run,
 * last run (a link to its task) and runs, kept live by the schedules stream; a due slot no
 * worker has taken yet shows how late it is. Each row can be paused or resumed, run now and
 * removed, each after a confirmation.
 */
import { API_BASE, type ErrorBody, type ScheduleRow, type SchedulesSnapshot } from '../../shared.js';
import { openStream, queuePath } from '../api.js';
import { fill, h } from '../dom.js';
import { count, duration, time } from '../format.js';
import { confirmed, link, problemBanner, queueHref, taskHref, type View, type ViewContext } from '../ui.js';

function actions(ctx: ViewContext, row: ScheduleRow): HTMLElement {
  const path = `${queuePath(row.queue)}/schedules/${encodeURIComponent(row.id)}`;
  const name = `schedule ${row.id} of ${row.queue}`;
  const button = (action: string, label: string) => h('button', { type: 'button', class: 'secondary small', 'data-action': action }, label);
  const pausing = row.state !== 'paused';
  const toggle = button(pausing ? 'pause-schedule' : 'resume-schedule', pausing ? 'Pause' : 'Resume');
  toggle.disabled = row.state === 'ended';
  toggle.addEventListener('click', () => {
    void confirmed(ctx, toggle, {
      question: `${pausing ? 'Pause' : 'Resume'} ${name}?`,
      detail: pausing ? 'No slot falls due until it is resumed; its runs already created go on.' : 'It goes on from its first slot after now; the slots that passed while paused are skipped.',
      confirmLabel: pausing ? 'Pause' : 'Resume',
      run: () => ctx.api.post<{ paused: boolean }>(`${path}/${pausing ? 'pause' : 'resume'}`),
      done: (result) => `Schedule ${row.id} is ${result.paused ? 'paused' : 'running again'}.`,
    });
  });
  const run = button('run-schedule', 'Run now');
  run.addEventListener('click', () => {
    void confirmed(ctx, run, {
      question: `Run ${name} now?`,
      detail: 'Creates one task with its payload and options now; its next slot stays.',
      confirmLabel: 'Run now',
      run: () => ctx.api.post<{ taskId: string }>(`${path}/run`),
      done: (result) => `Schedule ${row.id} ran now: task ${result.taskId}.`,
    });
  });
  const remove = button('remove-schedule', 'Remove');
  remove.addEventListener('click', () => {
    void confirmed(ctx, remove, {
      question: `Remove ${name}?`,
      detail: 'It creates no more tasks; the tasks it created stay.',
      confirmLabel: 'Remove',
      run: () => ctx.api.post<{ removed: boolean }>(`${path}/remove`),
      done: () => `Schedule ${row.id} removed.`,
    });
  });
  return h('td', { class: 'actions' }, toggle, ' ', run, ' ', remove);
}

function scheduleRow(ctx: ViewContext, row: ScheduleRow): HTMLTableRowElement {
  return h(
    'tr',
    { 'data-schedule': `${row.queue}/${row.id}` },
    h('td', null, link(queueHref(row.queue), row.queue)),
    h('td', { class: 'name' }, row.id),
    h('td', { 'data-col': 'cadence' }, h('code', null, row.cadence)),
    h('td', { 'data-col': 'state' }, h('span', { class: `badge badge-${row.state === 'active' ? 'running' : row.state === 'paused' ? 'paused' : 'unknown'}`, 'data-state': row.state }, row.state)),
    h(
      'td',
      { class: 'time', 'data-col': 'next' },
      time(row.nextRunAt),
      row.lagMs > 0 ? h('span', { class: 'bad', 'data-col': 'lag' }, ` due ${duration(row.lagMs)} ago`) : null,
    ),
    h('td', { 'data-col': 'last' }, row.lastTaskId ? [link(taskHref(row.queue, row.lastTaskId), row.lastTaskId), h('div', { class: 'time' }, time(row.lastRunAt))] : '—'),
    h('td', { class: 'num', 'data-col': 'runs' }, count(row.runs)),
    h('td', { class: 'payload' }, h('code', null, row.payload)),
    actions(ctx, row),
  );
}

function render(ctx: ViewContext, snapshot: SchedulesSnapshot): HTMLElement {
  if (!snapshot.schedules.length) {
    return h('p', { class: 'empty' }, 'No schedules. Add one with queue.schedule(id, { cron | everyMs, payload }), PUT /v1/queues/<queue>/schedules/<id>, or errand schedule add.');
  }
  return h(
    'section',
    { class: 'panel' },
    h(
      'table',
      { class: 'grid-table schedules' },
      h('thead', null, h('tr', null, ['queue', 'schedule', 'cadence', 'state', 'next run', 'last run', 'runs', 'payload', ''].map((label) => h('th', null, label)))),
      h('tbody', null, snapshot.schedules.map((row) => scheduleRow(ctx, row))),
    ),
  );
}

export const schedulesView: View = {
  pattern: /^\/schedules$/,
  nav: { label: 'Schedules', href: '/schedules' },
  title: () => 'Schedules',
  render(ctx) {
    const problem = h('div', { class: 'problem' });
    const body = h('div', { 'data-view': 'schedules' }, h('p', { class: 'loading' }, 'Loading…'));
    fill(ctx.root, h('h1', null, 'Schedules'), problem, body);
    let shown = '';
    ctx.onLeave(
      openStream(`${API_BASE}/streams/schedules`, {
        live: ctx.setLive,
        events: {
          snapshot: (snapshot: SchedulesSnapshot) => {
            fill(problem);
            // Redrawn only when a row changed: an open confirmation keeps its button.
            const text = JSON.stringify(snapshot.schedules);
            if (text === shown) return;
            shown = text;
            fill(body, render(ctx, snapshot));
          },
          problem: (error: ErrorBody) => fill(problem, problemBanner(error.error.message)),
        },
      }),
    );
  },
};
