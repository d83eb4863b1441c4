/**
 * The groups panel of the queue page: the groups with waiting or active tasks, largest
 * backlog first, a page at a time (the page lives in the URL, `?groups=<offset>`), each
 * with its counts, whether it is paused or held by a limit, its own limits, and a pause or
 * resume button. Hidden while the queue has no groups. Read again as the queue changes, at
 * most every few seconds.
 */
import { GROUPS_PAGE_SIZE, type GroupPage, type GroupRow } from '../../shared.js';
import { queuePath } from '../api.js';
import { fill, h } from '../dom.js';
import { count, time } from '../format.js';
import { confirmed, errorText, link, problemBanner, queueHref, stateBadge, type ViewContext } from '../ui.js';

function ownLimits(group: GroupRow): string {
  const parts: string[] = [];
  const { concurrency, rateLimit } = group.limits;
  if (concurrency !== undefined) parts.push(`concurrency ${count(concurrency)}`);
  if (rateLimit !== undefined) parts.push(`rate ${count(rateLimit.max)} per ${count(rateLimit.perMs)} ms`);
  return parts.length ? parts.join(', ') : 'the defaults';
}

/** The least time between two reads of the groups while the queue changes. */
const GROUPS_REFRESH_MS = 3_000;

export interface GroupsPanel {
  element: HTMLElement;
  /** Reads the page again (after the queue's counts changed); `groups` is how many the queue has. */
  refresh(groups: number): void;
}

export function groupsPanel(ctx: ViewContext, queue: string, offset: number): GroupsPanel {
  const body = h('div', { 'data-group-list': true });
  const heading = h('h2', null, 'Groups');
  const element = h('section', { class: 'panel', 'data-groups': true, hidden: true }, h('div', { class: 'panel-head' }, heading), body);
  let loading = false;
  let again = false;

  const row = (group: GroupRow): HTMLElement => {
    const button = h('button', { type: 'button', class: 'secondary small', 'data-action': group.paused ? 'resume-group' : 'pause-group' }, group.paused ? 'Resume' : 'Pause');
    button.addEventListener('click', () => {
      const pausing = !group.paused;
      void confirmed(ctx, button, {
        question: `${pausing ? 'Pause' : 'Resume'} group ${group.name} of ${queue}?`,
        detail: pausing ? "Workers stop claiming this group's tasks; the other groups go on." : "Workers claim this group's tasks again.",
        confirmLabel: pausing ? 'Pause' : 'Resume',
        run: () => ctx.api.post<{ paused: boolean }>(`${queuePath(queue)}/groups/${encodeURIComponent(group.name)}/${pausing ? 'pause' : 'resume'}`),
        done: (result) => `Group ${group.name} is ${result.paused ? 'paused' : 'running again'}.`,
        after: () => refresh(),
      });
    });
    const held = group.heldUntil !== undefined && group.heldUntil > Date.now();
    return h(
      'tr',
      { 'data-group': group.name },
      h('td', { class: 'name' }, group.name),
      h('td', { class: 'num', 'data-col': 'waiting' }, count(group.waiting)),
      h('td', { class: 'num', 'data-col': 'active' }, count(group.active)),
      h('td', null, stateBadge(group.paused ? 'paused' : 'running'), held ? h('span', { class: 'hint' }, ` held until ${time(group.heldUntil)}`) : null),
      h('td', { 'data-col': 'limits' }, ownLimits(group)),
      h('td', null, button),
    );
  };

  const show = (page: GroupPage) => {
    element.hidden = page.total === 0 && offset === 0;
    fill(heading, `Groups: ${count(page.total)}, largest backlog first`);
    fill(
      body,
      page.groups.length
        ? h(
            'table',
            { class: 'grid-table' },
            h('thead', null, h('tr', null, h('th', null, 'group'), h('th', { class: 'num' }, 'waiting'), h('th', { class: 'num' }, 'active'), h('th', null, 'state'), h('th', null, 'own limits'), h('th', null, ''))),
            h('tbody', null, page.groups.map(row)),
          )
        : h('p', { class: 'empty' }, 'No groups on this page.'),
      h(
        'div',
        { class: 'pager' },
        offset > 0 && link(queueHref(queue, { groups: String(Math.max(0, offset - GROUPS_PAGE_SIZE)) }), '‹ larger'),
        h('span', null, page.groups.length ? `${count(offset + 1)}–${count(offset + page.groups.length)} of ${count(page.total)}` : ''),
        offset + page.groups.length < page.total && link(queueHref(queue, { groups: String(offset + GROUPS_PAGE_SIZE) }), 'smaller ›'),
      ),
    );
  };

  const refresh = (): void => {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    ctx.api
      .get<GroupPage>(`${queuePath(queue)}/groups?${new URLSearchParams({ offset: String(offset), limit: String(GROUPS_PAGE_SIZE) })}`)
      .then(show, (error) => {
        element.hidden = false;
        fill(body, problemBanner(`The groups could not be read: ${errorText(error)}`));
      })
      .finally(() => {
        loading = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  };

  // Listing the groups reads every group with tasks (an admin read that grows with them):
  // at most once every few seconds while the counts keep changing.
  let last = 0;
  let trailing: number | undefined;
  ctx.onLeave(() => window.clearTimeout(trailing));
  return {
    element,
    refresh: (groups) => {
      if (groups === 0 && offset === 0 && element.hidden) return; // nothing to show, nothing to read
      const wait = last + GROUPS_REFRESH_MS - Date.now();
      if (wait <= 0) {
        last = Date.now();
        refresh();
      } else if (trailing === undefined) {
        trailing = window.setTimeout(() => {
          trailing = undefined;
          last = Date.now();
          refresh();
        }, wait);
      }
    },
  };
}
