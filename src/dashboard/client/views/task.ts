/**
 * Task view (/queues/:queue/tasks/:id): everything stored about a task (payload, its
 * progress as a bar or JSON, result or error, every attempt with its error and timing, the
 * lease holder, its log as plain text), kept live by the task's stream, with retry, cancel
 * and remove as the state allows; in a flow, its parent and the tree below it with states
 * and links.
 */
import { API_BASE, type ActionAnswer, type ErrorBody, type FlowNodeView, type TaskDetail, type TaskErrorInfo, type TaskLogBatch } from '../../shared.js';
import { ApiError, openStream, taskPath } from '../api.js';
import { fill, h, type Child } from '../dom.js';
import { count, duration, json, time } from '../format.js';
import { confirmed, errorText, link, problemBanner, queueHref, stateBadge, taskHref, type View, type ViewContext } from '../ui.js';
import { QUEUE_NAME } from './queue.js';

/** As src/config.ts's TASK_ID_PATTERN (a generated id may end with its partition mark). */
const TASK_ID = /^[A-Za-z0-9._:-]{1,128}(~\d{1,3}(\.\d{1,6})?)?$/;

function errorBlock(error: TaskErrorInfo, field: string): HTMLElement {
  return h(
    'div',
    { class: 'task-error', 'data-field': field },
    h('p', null, h('strong', { 'data-part': 'name' }, error.name), ': ', h('span', { 'data-part': 'message' }, error.message)),
    error.stack ? h('details', null, h('summary', null, 'stack'), h('pre', { 'data-part': 'stack' }, error.stack)) : null,
  );
}

function facts(task: TaskDetail): HTMLElement {
  const rows: [string, Child][] = [
    ['state', stateBadge(task.state)],
    ['attempts', `${count(task.attempt)} of ${count(task.maxAttempts)}`],
    ['priority', count(task.priority)],
    ['created', time(task.createdAt)],
  ];
  if (task.runAt !== undefined) rows.push(['runs at', time(task.runAt)]);
  if (task.startedAt !== undefined) rows.push(['last started', time(task.startedAt)]);
  if (task.finishedAt !== undefined) rows.push(['finished', time(task.finishedAt)]);
  if (task.finishedAt !== undefined && task.startedAt !== undefined) rows.push(['last run took', duration(task.finishedAt - task.startedAt)]);
  rows.push(['lease holder', task.worker ? h('code', { 'data-field': 'worker' }, task.worker) : task.state === 'active' ? 'unknown' : '— (not running)']);
  if (task.dedupeKey !== undefined) rows.push(['dedupe key', h('code', { 'data-field': 'dedupe-key' }, task.dedupeKey)]);
  if (task.timeoutMs !== undefined) rows.push(['timeout', duration(task.timeoutMs)]);
  if (task.backoff !== undefined) rows.push(['backoff', h('code', null, JSON.stringify(task.backoff))]);
  return h('dl', { class: 'facts' }, rows.map(([term, value]) => [h('dt', null, term), h('dd', null, value)]));
}

function attemptsTable(task: TaskDetail): HTMLElement {
  if (!task.attempts.length) return h('p', { class: 'empty' }, 'No failed attempt.');
  return h(
    'table',
    { class: 'grid-table attempts' },
    h('thead', null, h('tr', null, h('th', { class: 'num' }, '#'), h('th', null, 'started'), h('th', null, 'ended'), h('th', null, 'took'), h('th', null, 'error'))),
    h(
      'tbody',
      null,
      task.attempts.map((attempt) =>
        h(
          'tr',
          { 'data-attempt': attempt.attempt },
          h('td', { class: 'num' }, count(attempt.attempt)),
          h('td', { class: 'time' }, time(attempt.startedAt)),
          h('td', { class: 'time' }, time(attempt.finishedAt)),
          h('td', null, attempt.startedAt === null ? '—' : duration(attempt.finishedAt - attempt.startedAt)),
          h('td', null, errorBlock(attempt.error, 'attempt-error')),
        ),
      ),
    ),
  );
}

/** A bar for a number from 0 to 100; any other value as JSON. */
function progressBlock(progress: unknown): HTMLElement {
  if (typeof progress === 'number' && progress >= 0 && progress <= 100) {
    const shown = `${Math.round(progress * 10) / 10}%`;
    return h('div', { class: 'progress-row', 'data-field': 'progress' }, h('progress', { max: 100, value: progress, 'aria-label': `progress ${shown}` }), h('span', null, shown));
  }
  return h('pre', { class: 'json', 'data-field': 'progress' }, json(progress));
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);

/** One node of a flow and its children: a link to each task (the one shown is not a link), with its state. */
function flowNode(node: FlowNodeView, here: { queue: string; id: string }): HTMLElement {
  const name = `${node.queue} / ${node.id}`;
  const label = node.queue === here.queue && node.id === here.id ? h('strong', { 'aria-current': 'page' }, name) : link(taskHref(node.queue, node.id), name);
  return h(
    'li',
    { 'data-flow-node': `${node.queue}/${node.id}` },
    label,
    ' ',
    stateBadge(node.state === 'pending' ? 'unknown' : node.state),
    node.children.length ? h('ul', null, node.children.map((child) => flowNode(child, here))) : null,
  );
}

/** The task's place in a flow: its parent (a link), then the tree below it with states; null outside any flow. */
function flowBlock(view: FlowNodeView): HTMLElement[] | null {
  if (!view.parent && !view.children.length) return null;
  const parts: HTMLElement[] = [h('h2', null, 'Flow')];
  if (view.parent) parts.push(h('p', { 'data-field': 'flow-parent' }, 'Parent: ', link(taskHref(view.parent.queue, view.parent.id), `${view.parent.queue} / ${view.parent.id}`)));
  parts.push(h('ul', { class: 'flow-tree', 'data-field': 'flow' }, flowNode(view, view)));
  return parts;
}

/** Whether any node of the tree may still change. */
function unsettled(view: FlowNodeView): boolean {
  return !FINAL.has(view.state) || view.children.some(unsettled);
}

function body(task: TaskDetail): HTMLElement[] {
  return [
    h('section', { class: 'panel' }, facts(task)),
    task.progress !== undefined ? h('section', { class: 'panel' }, h('h2', null, 'Progress'), progressBlock(task.progress)) : null,
    h('section', { class: 'panel' }, h('h2', null, 'Payload'), h('pre', { class: 'json', 'data-field': 'payload' }, json(task.payload))),
    task.state === 'completed' ? h('section', { class: 'panel' }, h('h2', null, 'Result'), h('pre', { class: 'json', 'data-field': 'result' }, 'result' in task ? json(task.result) : 'undefined (the handler returned nothing)')) : null,
    task.error ? h('section', { class: 'panel' }, h('h2', null, task.state === 'failed' ? 'Error' : 'Last error'), errorBlock(task.error, 'error')) : null,
    h('section', { class: 'panel' }, h('h2', null, 'Failed attempts'), attemptsTable(task)),
  ].filter((section): section is HTMLElement => section !== null);
}

export const taskView: View = {
  pattern: /^\/queues\/(?<queue>[^/]+)\/tasks\/(?<id>[^/]+)$/,
  title: (route) => `Task ${route.params.id ?? ''}`,
  render(ctx: ViewContext, route) {
    const queue = route.params.queue!;
    const id = route.params.id!;
    const crumbs = h('p', { class: 'crumbs' }, link('/', 'Queues'), ' / ', QUEUE_NAME.test(queue) ? link(queueHref(queue), queue) : queue, ' / ', id);
    if (!QUEUE_NAME.test(queue) || !TASK_ID.test(id)) {
      fill(ctx.root, crumbs, h('h1', null, 'No such task'), problemBanner('This address names no valid queue and task id.'));
      return;
    }
    const badge = h('span', { class: 'title-badge' });
    const buttons = {
      retry: h('button', { type: 'button', class: 'secondary', 'data-action': 'retry' }, 'Retry'),
      cancel: h('button', { type: 'button', class: 'secondary', 'data-action': 'cancel' }, 'Cancel'),
      remove: h('button', { type: 'button', class: 'danger', 'data-action': 'remove' }, 'Remove'),
    };
    const problem = h('div', { class: 'problem' });
    const content = h('div', { 'data-task-detail': true }, h('p', { class: 'loading' }, 'Loading…'));
    // The log is text only: each line a text node, whatever it holds (never parsed as HTML).
    const logLines = h('pre', { class: 'log', 'data-field': 'logs' });
    const logEmpty = h('p', { class: 'empty' }, 'Nothing logged.');
    const logPanel = h('section', { class: 'panel', 'data-panel': 'logs' }, h('h2', null, 'Log'), logEmpty, logLines);
    const clearLogs = () => {
      fill(logLines);
      logEmpty.hidden = false;
    };
    const appendLogs = (batch: TaskLogBatch) => {
      if (batch.dropped) logLines.append(`… ${batch.dropped} earlier line${batch.dropped === 1 ? '' : 's'} dropped (a task's log keeps its last 1,000 lines and 64 KiB)\n`);
      for (const line of batch.lines) logLines.append(`${time(line.at)}  #${line.attempt}  ${line.message}\n`);
      logEmpty.hidden = logLines.childNodes.length > 0;
    };
    // A flow's tree, read again at each change of this task and, while any node may still
    // change, every few seconds (its children's moves are not on this task's stream).
    const flowPanel = h('section', { class: 'panel', 'data-panel': 'flow', hidden: true });
    let flowTimer: ReturnType<typeof setInterval> | undefined;
    let flowReading = false;
    const readFlow = () => {
      if (flowReading) return;
      flowReading = true;
      ctx.api.get<FlowNodeView>(`${taskPath(queue, id)}/flow`).then(
        (view) => {
          flowReading = false;
          const block = flowBlock(view);
          flowPanel.hidden = !block;
          if (block) fill(flowPanel, ...block);
          if (block && unsettled(view)) flowTimer ??= setInterval(readFlow, 3_000);
          else if (flowTimer) clearInterval(flowTimer), (flowTimer = undefined);
        },
        () => {
          flowReading = false; // the task view says what went wrong
        },
      );
    };
    ctx.onLeave(() => clearInterval(flowTimer));
    fill(ctx.root, crumbs, h('div', { class: 'title-row' }, h('h1', null, 'Task ', id), badge, h('div', { class: 'actions' }, buttons.retry, buttons.cancel, buttons.remove)), problem, content, flowPanel, logPanel);

    const show = (task: TaskDetail) => {
      fill(badge, stateBadge(task.state));
      buttons.retry.hidden = !(task.state === 'failed' || task.state === 'cancelled');
      buttons.cancel.hidden = !(task.state === 'waiting' || task.state === 'delayed' || task.state === 'active' || task.state === 'dependencies');
      fill(content, body(task));
      readFlow();
    };

    /** Set by a retry until the task ends again: a retry that ends in failure is no success to leave in green. */
    let retried = false;
    const endOfRetry = (task: TaskDetail) => {
      if (!retried || (task.state !== 'failed' && task.state !== 'completed' && task.state !== 'cancelled')) return;
      retried = false;
      if (task.state === 'failed') ctx.flash(`Task ${id} was retried and failed again${task.error ? `: ${task.error.message}` : ''}.`, 'error');
    };
    let closeStream = () => {};
    const watch = () => {
      closeStream();
      closeStream = openStream(`${API_BASE}/streams/queues/${encodeURIComponent(queue)}/tasks/${encodeURIComponent(id)}`, {
        live: (live) => {
          ctx.setLive(live);
          if (live) clearLogs(); // a (re)opened stream sends the log again from its first line
        },
        events: {
          logs: (batch: TaskLogBatch) => appendLogs(batch),
          task: (task: TaskDetail) => {
            fill(problem);
            show(task);
            endOfRetry(task);
          },
          end: (end: { reason: string }) => {
            closeStream();
            ctx.setLive(true); // nothing more will change until an action
            if (end.reason === 'removed') fill(problem, problemBanner('This task was removed.'));
          },
          problem: (error: ErrorBody) => fill(problem, problemBanner(error.error.message)),
        },
      });
    };
    ctx.onLeave(() => closeStream());

    const act = (action: 'retry' | 'cancel' | 'remove', question: string, detail: string, label: string) =>
      void confirmed(ctx, buttons[action], {
        question,
        detail,
        confirmLabel: label,
        run: () => ctx.api.post<ActionAnswer>(`${taskPath(queue, id)}/${action}`),
        done: (answer) => {
          if (answer.state === 'removed') return `Task ${id} removed from ${queue}.`;
          if (action === 'retry' && answer.state === 'failed') return { message: `Task ${id} was retried and failed again: see its latest error below.`, kind: 'error' };
          retried = action === 'retry'; // the watch says how it ends
          return `Task ${id}: ${action === 'retry' ? 'retried' : 'cancelled'}, now ${answer.state}.`;
        },
        after: (answer) => (answer.state === 'removed' ? ctx.navigate(queueHref(queue)) : watch()),
      });
    buttons.retry.addEventListener('click', () => act('retry', `Retry task ${id}?`, 'It goes back in line with a fresh set of attempts.', 'Retry'));
    buttons.cancel.addEventListener('click', () => act('cancel', `Cancel task ${id}?`, 'It ends as cancelled; a running handler’s result will be refused.', 'Cancel task'));
    buttons.remove.addEventListener('click', () => act('remove', `Remove task ${id}?`, 'It is deleted with its payload, result and history. This cannot be undone.', 'Remove'));

    // Read once first: a missing task is a clear message, not a stream that keeps failing.
    ctx.api.get<TaskDetail>(taskPath(queue, id)).then(
      (task) => {
        show(task);
        watch();
      },
      (error: unknown) => {
        const gone = error instanceof ApiError && error.code === 'TASK_NOT_FOUND';
        fill(content);
        fill(problem, problemBanner(gone ? `Task ${id} does not exist in queue ${queue} (never created, removed, or past its retention).` : errorText(error)));
        for (const button of Object.values(buttons)) button.hidden = true;
      },
    );
  },
};
