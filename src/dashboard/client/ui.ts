/**
 * Pieces every view uses: the view contract (views.ts lists the views), state badges,
 * number cards, the chart panel, the confirmation dialog and the confirmed action.
 */
import type { MinutePoint, SessionInfo, TaskState } from '../shared.js';
import { ApiError, type Api } from './api.js';
import { throughputChart } from './chart.js';
import { h, type Child } from './dom.js';

export interface Route {
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
}

export interface ViewContext {
  api: Api;
  /** The view's own part of the page. */
  root: HTMLElement;
  navigate(href: string, options?: { replace?: boolean }): void;
  flash(message: string, kind?: 'ok' | 'error'): void;
  /** Whether the view's live stream is connected. */
  setLive(live: boolean): void;
  /** Runs `cleanup` when the view is left (close streams, timers). */
  onLeave(cleanup: () => void): void;
}

export interface View {
  /** Matches the browser path; named groups become params (URL-decoded). */
  pattern: RegExp;
  /** The view's link in the navigation bar, if it has one. */
  nav?: { label: string; href: string; enabled?: (session: SessionInfo) => boolean };
  title(route: Route): string;
  render(ctx: ViewContext, route: Route): void;
}

export function stateBadge(state: TaskState | 'removed' | 'paused' | 'running' | 'unknown'): HTMLElement {
  return h('span', { class: `badge badge-${state}`, 'data-state': state }, state);
}

export function card(label: string, value: Child, options: { key?: string; tone?: string; hint?: string } = {}): HTMLElement {
  return h(
    'div',
    { class: `card${options.tone ? ` card-${options.tone}` : ''}`, 'data-card': options.key },
    h('div', { class: 'card-value' }, value),
    h('div', { class: 'card-label' }, label),
    options.hint && h('div', { class: 'card-hint' }, options.hint),
  );
}

export function chartPanel(title: string, points: readonly MinutePoint[]): HTMLElement {
  return h(
    'section',
    { class: 'panel chart-panel' },
    h(
      'div',
      { class: 'panel-head' },
      h('h2', null, title),
      h('span', { class: 'legend' }, h('i', { class: 'swatch swatch-completed' }), 'completed', h('i', { class: 'swatch swatch-failed' }), 'failed'),
    ),
    throughputChart(points),
  );
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return `${error.message}${error.code && error.status ? ` (${error.code})` : ''}`;
  return error instanceof Error ? error.message : String(error);
}

/** Asks before an action; resolves true when confirmed. */
export function confirmDialog(question: string, detail: string, confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-label': question },
      h('h2', null, question),
      h('p', null, detail),
      h(
        'div',
        { class: 'dialog-buttons' },
        h('button', { type: 'button', class: 'secondary', 'data-cancel': true, onclick: () => dialog.close('cancel') }, 'Cancel'),
        h('button', { type: 'button', class: 'danger', 'data-confirm': true, onclick: () => dialog.close('confirm') }, confirmLabel),
      ),
    );
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'confirm');
    });
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}

export interface Action<T> {
  question: string;
  detail: string;
  confirmLabel: string;
  run: () => Promise<T>;
  /** The message saying what happened; with `kind: 'error'` when what happened is not what was hoped for. */
  done: (result: T) => string | { message: string; kind: 'ok' | 'error' };
  /** After success (refresh, navigate). */
  after?: (result: T) => void;
}

/** Confirms, runs, and says what happened (or what went wrong) in the flash area. */
export async function confirmed<T>(ctx: ViewContext, button: HTMLButtonElement, action: Action<T>): Promise<void> {
  if (!(await confirmDialog(action.question, action.detail, action.confirmLabel))) return;
  button.disabled = true;
  try {
    const result = await action.run();
    const said = action.done(result);
    if (typeof said === 'string') ctx.flash(said, 'ok');
    else ctx.flash(said.message, said.kind);
    action.after?.(result);
  } catch (error) {
    ctx.flash(`${action.confirmLabel} failed: ${errorText(error)}`, 'error');
  } finally {
    button.disabled = false;
  }
}

/** A link to a path of the dashboard. */
export function link(href: string, ...children: Child[]): HTMLAnchorElement {
  return h('a', { href }, ...children);
}

export function queueHref(queue: string, query?: Record<string, string>): string {
  const search = query ? `?${new URLSearchParams(query).toString()}` : '';
  return `/queues/${encodeURIComponent(queue)}${search}`;
}

export function taskHref(queue: string, id: string): string {
  return `/queues/${encodeURIComponent(queue)}/tasks/${encodeURIComponent(id)}`;
}

export function problemBanner(message: string): HTMLElement {
  return h('p', { class: 'flash flash-error', role: 'alert' }, message);
}
