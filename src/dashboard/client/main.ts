/**
 * The dashboard's client entry: fetches the session, draws the frame (navigation, live
 * indicator, flash messages, logout), and routes browser paths to views without page
 * loads (history API), closing the old view's streams when it is left.
 */
import { LOGIN_PATH } from '../shared.js';
import { Api } from './api.js';
import { fill, h, isLocalPath } from './dom.js';
import { errorText, type Route, type View } from './ui.js';
import { VIEWS } from './views.js';

const FLASH_MS = 10_000;

function match(path: string): { view: View; params: Record<string, string> } | undefined {
  for (const view of VIEWS) {
    const found = view.pattern.exec(path);
    if (!found) continue;
    const params: Record<string, string> = {};
    try {
      for (const [name, value] of Object.entries(found.groups ?? {})) params[name] = decodeURIComponent(value);
    } catch {
      continue; // a malformed %-escape: no view
    }
    return { view, params };
  }
  return undefined;
}

async function start(): Promise<void> {
  const app = document.getElementById('app')!;
  let api: Api;
  try {
    api = await Api.connect();
  } catch (error) {
    fill(app, h('p', { class: 'flash flash-error', role: 'alert' }, `The dashboard could not start: ${errorText(error)}`));
    return;
  }

  const live = h('span', { class: 'live', 'data-live': 'connecting', title: 'live updates' }, 'connecting');
  const navLinks = VIEWS.filter((view) => view.nav && (view.nav.enabled?.(api.session) ?? true)).map((view) =>
    h('a', { href: view.nav!.href, class: 'nav-link', 'data-nav': view.nav!.href }, view.nav!.label),
  );
  const logout = api.session.auth
    ? h('button', { type: 'button', class: 'link-button', 'data-action': 'logout', onclick: () => void api.post('/ui/logout').finally(() => location.assign(LOGIN_PATH)) }, 'Log out')
    : null;
  const flashes = h('div', { class: 'flashes', 'aria-live': 'polite' });
  const root = h('main', { class: 'view' });
  fill(
    app,
    h('header', { class: 'top' }, h('a', { href: '/', class: 'brand' }, 'Errand'), h('nav', { class: 'nav' }, navLinks), h('div', { class: 'top-right' }, live, logout)),
    flashes,
    root,
  );

  let leave: (() => void)[] = [];
  const setLive = (on: boolean) => {
    live.setAttribute('data-live', on ? 'live' : 'reconnecting');
    live.textContent = on ? 'live' : 'reconnecting…';
  };
  const flash = (message: string, kind: 'ok' | 'error' = 'ok') => {
    const note = h('p', { class: `flash flash-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message, h('button', { type: 'button', class: 'close', 'aria-label': 'dismiss', onclick: () => note.remove() }, '×'));
    flashes.appendChild(note);
    window.setTimeout(() => note.remove(), FLASH_MS);
  };

  const show = () => {
    for (const cleanup of leave.splice(0)) cleanup();
    const route: Route = { path: location.pathname, params: {}, query: new URLSearchParams(location.search) };
    const found = match(location.pathname);
    for (const anchor of navLinks) {
      const href = anchor.getAttribute('href')!;
      const current = href === '/' ? location.pathname === '/' || location.pathname.startsWith('/queues/') : location.pathname.startsWith(href);
      anchor.classList.toggle('current', current);
    }
    if (!found) {
      document.title = 'Not found · Errand';
      fill(root, h('h1', null, 'Not found'), h('p', null, 'The dashboard has no page at this address.'));
      return;
    }
    route.params = found.params;
    document.title = `${found.view.title(route)} · Errand`;
    live.setAttribute('data-live', 'connecting');
    live.textContent = 'connecting';
    found.view.render({ api, root, navigate, flash, setLive, onLeave: (cleanup) => leave.push(cleanup) }, route);
  };

  function navigate(href: string, { replace = false }: { replace?: boolean } = {}): void {
    if (replace) history.replaceState(null, '', href);
    else history.pushState(null, '', href);
    window.scrollTo(0, 0);
    show();
  }

  // Links to the dashboard's own views change the view in place; others (the demo links) load as usual.
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const anchor = (event.target as Element | null)?.closest?.('a');
    const href = anchor?.getAttribute('href');
    if (!anchor || !href || !isLocalPath(href) || anchor.target) return;
    const url = new URL(href, location.href);
    if (!match(url.pathname)) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
  window.addEventListener('popstate', show);
  show();
}

void start();
