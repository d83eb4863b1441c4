/** A table of task summaries (queue view lists and search results), each row linking to its task. */
import type { TaskSummary } from '../shared.js';
import { h } from './dom.js';
import { count, time } from './format.js';
import { link, stateBadge, taskHref } from './ui.js';

function when(task: TaskSummary): string {
  if (task.finishedAt !== undefined) return `finished ${time(task.finishedAt)}`;
  if (task.runAt !== undefined && (task.state === 'delayed' || task.state === 'waiting')) return `runs at ${time(task.runAt)}`;
  return '';
}

export function taskTable(queue: string, tasks: readonly TaskSummary[]): HTMLTableElement {
  return h(
    'table',
    { class: 'grid-table tasks' },
    h(
      'thead',
      null,
      h('tr', null, h('th', null, 'id'), h('th', null, 'state'), h('th', null, 'payload'), h('th', { class: 'num' }, 'attempts'), h('th', null, 'created'), h('th', null, 'runs or finished'), h('th', null, 'error')),
    ),
    h(
      'tbody',
      null,
      tasks.map((task) =>
        h(
          'tr',
          { 'data-task': task.id },
          h('td', { class: 'id' }, link(taskHref(queue, task.id), task.id)),
          h('td', null, stateBadge(task.state)),
          h('td', { class: 'payload' }, h('code', { 'data-field': 'payload-preview' }, task.payload)),
          h('td', { class: 'num' }, `${count(task.attempt)}/${count(task.maxAttempts)}`),
          h('td', { class: 'time' }, time(task.createdAt)),
          h('td', { class: 'time' }, when(task)),
          h('td', { class: 'error', 'data-field': 'error-preview' }, task.error ?? ''),
        ),
      ),
    ),
  );
}
