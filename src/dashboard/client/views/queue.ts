/**
 * Queue view (/queues/:queue): counts, lifetime totals and the last hour's chart (live),
 * pause/resume and retry-all-failed, the settings panel (queue-settings.ts), the groups by
 * backlog (queue-groups.ts), tasks by state with paging, and search by id or payload text.
 * State, page, groups page and search live in the URL, so each is a link.
 */
import { API_BASE, PAGE_SIZE, TASK_STATES, type ErrorBody, type PartitionRow, type QueueSnapshot, type SearchAnswer, type TaskPage, type TaskState } from '../../shared.js';
import { openStream, queuePath } from '../api.js';
import { fill, h } from '../dom.js';
import { count, failureRate } from '../format.js';
import { taskTable } from '../tasks-table.js';
import { groupsPanel } from './queue-groups.js';
import { settingsPanel } from './queue-settings.js';
import { card, chartPanel, confirmed, errorText, link, problemBanner, queueHref, stateBadge, type Route, type View } from '../ui.js';

export const QUEUE_NAME = /^[A-Za-z0-9._-]{1,128}$/;

function parseState(value: string | null): TaskState {
  return TASK_STATES.find((state) => state === value) ?? 'waiting';
}

function searchResults(queue: string, answer: SearchAnswer): HTMLElement {
  const why = {
    end: `read all ${count(answer.scanned)} retained tasks`,
    scanLimit: `stopped after reading ${count(answer.scanned)} tasks, the most one search reads: refine the text or look by state`,
    maxMatches: `showing the first ${count(answer.matches.length)} matches (read ${count(answer.scanned)} tasks)`,
  }[answer.stoppedBy];
  return h(
    'section',
    { class: 'panel', 'data-search-results': true },
    h('div', { class: 'panel-head' }, h('h2', null, 'Search: ', h('q', { 'data-search-text': true }, answer.text)), link(queueHref(queue), 'clear search')),
    answer.byId ? [h('h3', null, 'Task with this id'), taskTable(queue, [answer.byId])] : null,
    h('h3', null, `${count(answer.matches.length)} task${answer.matches.length === 1 ? '' : 's'} whose payload contains the text`),
    h('p', { class: 'hint' }, why),
    answer.matches.length ? taskTable(queue, answer.matches) : h('p', { class: 'empty' }, 'No payload contains this text.'),
  );
}

/** A partitioned queue's partitions, one row each (the cards above are their sums). */
function partitionsPanel(rows: PartitionRow[]): HTMLElement {
  const states = ['waiting', 'delayed', 'active', 'completed', 'failed'] as const;
  return h(
    'section',
    { class: 'panel' },
    h('div', { class: 'panel-head' }, h('h2', null, `${rows.length} partitions`)),
    h(
      'table',
      null,
      h('thead', null, h('tr', null, h('th', null, 'partition'), h('th', null, 'new tasks'), ...states.map((s) => h('th', { class: 'num' }, s)))),
      h(
        'tbody',
        null,
        rows.map((row) =>
          h(
            'tr',
            { 'data-partition': row.partition },
            h('td', null, String(row.partition)),
            h('td', null, row.routed ? (row.paused ? 'paused' : 'routed') : 'draining'),
            ...states.map((s) => h('td', { class: 'num' }, count(row[s]))),
          ),
        ),
      ),
    ),
  );
}

export const queueView: View = {
  pattern: /^\/queues\/(?<queue>[^/]+)$/,
  title: (route) => route.params.queue ?? 'Queue',
  render(ctx, route: Route) {
    const queue = route.params.queue!;
    if (!QUEUE_NAME.test(queue)) {
      fill(ctx.root, h('p', { class: 'crumbs' }, link('/', 'Queues'), ' / ', queue), h('h1', null, 'No such queue'), problemBanner(`${JSON.stringify(queue)} is not a queue name: names have 1-128 characters from A-Z a-z 0-9 . _ -`));
      return;
    }
    const state = parseState(route.query.get('state'));
    const offset = Math.max(0, Math.floor(Number(route.query.get('offset')) || 0));
    const searchText = route.query.get('search') ?? '';
    const groupsOffset = Math.max(0, Math.floor(Number(route.query.get('groups')) || 0));
    const groups = groupsPanel(ctx, queue, groupsOffset);
    let snapshot: QueueSnapshot | undefined;

    const badge = h('span', { class: 'title-badge' });
    const pauseButton = h('button', { type: 'button', class: 'secondary', 'data-action': 'pause' }, 'Pause');
    const retryAllButton = h('button', { type: 'button', class: 'secondary', 'data-action': 'retry-failed' }, 'Retry all failed');
    const problem = h('div', { class: 'problem' });
    const cards = h('section', { class: 'cards', 'data-queue-cards': true });
    const chart = h('div');
    const partitions = h('div', { 'data-partitions': true });
    const tabs = h('nav', { class: 'tabs', 'aria-label': 'task states' });
    const list = h('div', { 'data-task-list': true }, h('p', { class: 'loading' }, 'Loading…'));
    const searchInput = h('input', {
      type: 'search',
      name: 'search',
      value: searchText,
      placeholder: 'Task id or payload text',
      'aria-label': 'search tasks by id or payload text',
      maxlength: 500,
    });
    const searchForm = h(
      'form',
      { class: 'search', role: 'search', onsubmit: (event: Event) => {
        event.preventDefault();
        const text = searchInput.value.trim();
        ctx.navigate(queueHref(queue, text ? { search: text } : { state }));
      } },
      searchInput,
      h('button', { type: 'submit' }, 'Search'),
      h('span', { class: 'hint' }, `Finds a task by id, and tasks whose payload contains the text (ignoring case), reading up to ${count(ctx.api.session.searchScanLimit)} retained tasks.`),
    );

    fill(
      ctx.root,
      h('p', { class: 'crumbs' }, link('/', 'Queues'), ' / ', queue),
      h('div', { class: 'title-row' }, h('h1', null, queue), badge, h('div', { class: 'actions' }, pauseButton, retryAllButton)),
      problem,
      cards,
      partitions,
      chart,
      settingsPanel(ctx, queue),
      groups.element,
      h('section', { class: 'panel' }, searchForm, searchText ? null : tabs, list),
    );

    pauseButton.addEventListener('click', () => {
      const pausing = !snapshot?.paused;
      void confirmed(ctx, pauseButton, {
        question: pausing ? `Pause queue ${queue}?` : `Resume queue ${queue}?`,
        detail: pausing ? 'Workers stop claiming its tasks; tasks already running go on.' : 'Workers claim its tasks again.',
        confirmLabel: pausing ? 'Pause' : 'Resume',
        run: () => ctx.api.post<{ paused: boolean }>(`${queuePath(queue)}/${pausing ? 'pause' : 'resume'}`),
        done: (result) => `Queue ${queue} is ${result.paused ? 'paused' : 'running again'}.`,
        after: (result) => snapshot && showSnapshot({ ...snapshot, paused: result.paused }),
      });
    });
    retryAllButton.addEventListener('click', () => {
      void confirmed(ctx, retryAllButton, {
        question: `Retry all failed tasks of ${queue}?`,
        detail: `${count(snapshot?.counts.failed ?? 0)} failed tasks go back in line with a fresh set of attempts.`,
        confirmLabel: 'Retry all',
        run: () => ctx.api.post<{ retried: number }>(`${queuePath(queue)}/retry-failed`),
        done: (result) => `${count(result.retried)} task${result.retried === 1 ? '' : 's'} of ${queue} put back in line.`,
        after: () => void loadList(),
      });
    });

    const showSnapshot = (next: QueueSnapshot) => {
      snapshot = next;
      const { counts, lifetime, lastHour } = next;
      // A name nothing ever used: no running queue to pause, only a probable typo to point out.
      pauseButton.hidden = retryAllButton.hidden = !next.known;
      if (!next.known) {
        fill(problem, problemBanner(`No queue "${queue}" is known here: nothing was ever enqueued to it, and no worker ever served it. Check the name (the queues are listed on the overview); this page fills in once the queue is used.`));
      }
      fill(badge, stateBadge(!next.known ? 'unknown' : next.paused ? 'paused' : 'running'));
      pauseButton.textContent = next.paused ? 'Resume' : 'Pause';
      pauseButton.setAttribute('data-action', next.paused ? 'resume' : 'pause');
      retryAllButton.disabled = counts.failed === 0;
      fill(
        cards,
        TASK_STATES.map((s) => card(s, count(counts[s]), { key: s, tone: s === 'failed' && counts[s] > 0 ? 'bad' : undefined })),
        card('workers', count(next.workers), { key: 'workers' }),
        next.groups > 0 && card('groups', count(next.groups), { key: 'groups', hint: 'with waiting tasks' }),
        card('enqueued, all time', count(lifetime.enqueued), { key: 'enqueued', hint: `${count(lifetime.completed)} completed, ${count(lifetime.failed)} failed` }),
        card('failure rate, last hour', failureRate(lastHour.completed, lastHour.failed), { key: 'failure-rate', hint: `${count(lastHour.completed + lastHour.failed)} finished` }),
      );
      fill(chart, chartPanel('Finished per minute, last hour', next.throughput));
      fill(partitions, next.partitions ? partitionsPanel(next.partitions) : null);
      fill(
        tabs,
        TASK_STATES.map((s) =>
          h('a', { href: queueHref(queue, { state: s }), class: `tab${s === state ? ' current' : ''}`, 'data-tab': s, 'aria-current': s === state ? 'page' : undefined }, s, ' ', h('span', { class: `tab-count${s === 'failed' && counts[s] > 0 ? ' bad' : ''}` }, count(counts[s]))),
        ),
      );
    };

    let loading: Promise<void> | undefined;
    let again = false;
    const loadList = async (): Promise<void> => {
      if (loading) {
        again = true; // one more read once this one is done, for changes it may have missed
        return loading;
      }
      loading = (async () => {
        try {
          if (searchText) {
            const answer = await ctx.api.get<SearchAnswer>(`${queuePath(queue)}/search?${new URLSearchParams({ text: searchText })}`);
            fill(list, searchResults(queue, answer));
            return;
          }
          const page = await ctx.api.get<TaskPage>(`${queuePath(queue)}/tasks?${new URLSearchParams({ state, offset: String(offset), limit: String(PAGE_SIZE) })}`);
          const total = snapshot?.counts[state];
          fill(
            list,
            page.tasks.length ? taskTable(queue, page.tasks) : h('p', { class: 'empty' }, offset ? 'No tasks on this page.' : `No ${state} tasks.`),
            h(
              'div',
              { class: 'pager' },
              offset > 0 && link(queueHref(queue, { state, offset: String(Math.max(0, offset - PAGE_SIZE)) }), '‹ newer'),
              h('span', null, page.tasks.length ? `${count(offset + 1)}–${count(offset + page.tasks.length)}${total === undefined ? '' : ` of ${count(total)}`}` : ''),
              page.tasks.length === PAGE_SIZE && link(queueHref(queue, { state, offset: String(offset + PAGE_SIZE) }), 'older ›'),
            ),
          );
        } catch (error) {
          fill(list, problemBanner(errorText(error)));
        }
      })().finally(() => {
        loading = undefined;
        if (again) {
          again = false;
          void loadList();
        }
      });
      return loading;
    };

    void loadList();
    ctx.onLeave(
      openStream(`${API_BASE}/streams/queues/${encodeURIComponent(queue)}`, {
        live: ctx.setLive,
        events: {
          snapshot: (next: QueueSnapshot) => {
            // The first snapshot brings the state's total for the pager; later ones, changes to show.
            const changed = !snapshot || JSON.stringify(snapshot.counts) !== JSON.stringify(next.counts) || snapshot.groups !== next.groups;
            fill(problem);
            showSnapshot(next); // says so again if the queue is unknown
            if (changed && !searchText) void loadList();
            if (changed) groups.refresh(next.groups);
          },
          problem: (body: ErrorBody) => fill(problem, problemBanner(body.error.message)),
        },
      }),
    );
  },
};
