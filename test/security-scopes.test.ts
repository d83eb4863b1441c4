/**
 * Scoped tokens (issue 12, item 11): every route of the gateway (/v1, event streams, the
 * dashboard's pages, API and streams), taken from the gateway's own route table, called
 * with every kind of token: admin, read, enqueue, each of the last two also limited to
 * some queues, topics and channels, and no token. A call the token may not make gets 403
 * (401 without a token) and writes nothing; one it may make gets past auth. The same table
 * is checked against docs/http-api.md, which lists the scope of each route.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { RouteAccess, Scope } from '../src/gateway/scopes.js';
import type { ScopedToken } from '../src/gateway/scopes.js';
import { useRedis, useScope, type TestScope } from './support/fixtures.js';
import { call, listeningIn } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);

const ADMIN = 'admin-token-0123456789';
const TOKENS: ScopedToken[] = [
  { name: 'reader', token: 'read-token-0123456789', scope: 'read' },
  { name: 'producer', token: 'enqueue-token-0123456789', scope: 'enqueue' },
  { name: 'reader-q', token: 'read-q-token-0123456789', scope: 'read', queues: ['q'], topics: ['t'], channels: ['c'] },
  { name: 'producer-q', token: 'enqueue-q-token-0123456789', scope: 'enqueue', queues: ['q'], topics: ['t'], channels: ['c'] },
];

interface Caller {
  label: string;
  token: string | undefined;
  scope: Scope | undefined;
  limited: boolean;
}

const CALLERS: Caller[] = [
  { label: 'admin', token: ADMIN, scope: 'admin', limited: false },
  ...TOKENS.map((t) => ({ label: t.name, token: t.token, scope: t.scope, limited: Boolean(t.queues) })),
  { label: 'no token', token: undefined, scope: undefined, limited: false },
];

/** Path parameters filled in: `inside` names what the limited tokens list, else something they do not. */
function pathOf(url: string, inside: boolean): string {
  const values: Record<string, string> = inside ? { queue: 'q', topic: 't', channel: 'c', id: '1' } : { queue: 'other', topic: 'other', channel: 'other', id: '1' };
  return url.replace(/:([a-z]+)/g, (_m, name: string) => values[name] ?? 'x').replace('*', inside ? 'q' : 'other');
}

function expected(route: RouteAccess, caller: Caller, inside: boolean): 'allowed' | 302 | 401 | 403 {
  if (route.public) return 'allowed';
  if (!caller.scope) return route.page ? 302 : 401; // a browser is sent to the login form
  const scoped = route.scope === 'any' || caller.scope === 'admin' || caller.scope === route.scope;
  if (!scoped) return 403;
  if (!caller.limited || route.scope === 'any' || route.resource !== 'params') return 'allowed';
  const named = /:(queue|topic|channel)\b/.test(route.url);
  return named && inside ? 'allowed' : 403;
}

const isStream = (url: string) => url.endsWith('/events') || url.includes('/ui/api/streams/');

async function keysOf(s: TestScope): Promise<string[]> {
  return (await s.client().keys(`${s.prefix}*`)).filter((key) => !key.includes(':gateway:auth-failures:')).sort();
}

describe('scoped tokens on every route', () => {
  it('allow each token exactly its scope (and its queues, topics and channels), refusals writing nothing', { timeout: 120_000 }, async () => {
    const s = scope();
    // A high limit on failures: this test fails authentication on purpose, many times.
    const gw = await listeningIn(s, redis, { token: ADMIN, tokens: TOKENS, demo: true, maxAuthFailures: 100_000 });
    const routes = gw.routes.filter((route) => !route.url.startsWith('/ui/assets') && route.url !== '/ui/login');
    expect(routes.length).toBeGreaterThan(30);
    const checked: string[] = [];
    for (const route of routes) {
      for (const caller of CALLERS) {
        for (const inside of [true, false]) {
          const want = expected(route, caller, inside);
          const path = pathOf(route.url, inside);
          const headers: Record<string, string> = caller.token ? { authorization: `Bearer ${caller.token}` } : {};
          const what = `${route.method} ${path} as ${caller.label}`;
          const before = await keysOf(s);
          let status: number;
          if (isStream(route.url)) {
            // An event stream that is let through stays open: its status is all we need.
            const controller = new AbortController();
            const query = route.url.startsWith('/v1/topics') ? '?group=g' : '';
            const response = await fetch(`${gw.url}${path}${query}`, { headers, signal: controller.signal });
            status = response.status;
            controller.abort();
            await response.body?.cancel().catch(() => {});
          } else {
            const body =
              route.method === 'PATCH' || route.method === 'PUT' || (route.method === 'POST' && !/\/(pause|resume|retry|cancel|remove|retry-failed|logout|run)$/.test(route.url)) ? {} : undefined;
            status = (await call(gw, route.method as 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path, body, headers)).status;
          }
          if (want === 'allowed') {
            expect([what, status === 401 || status === 403 ? status : 'allowed']).toEqual([what, 'allowed']);
          } else {
            expect([what, status]).toEqual([what, want]);
            expect([what, await keysOf(s)]).toEqual([what, before]);
          }
          checked.push(`${what}: ${want}`);
        }
      }
    }
    // Every scope was both granted and refused somewhere.
    for (const caller of CALLERS.filter((c) => c.scope && c.scope !== 'admin')) {
      expect(checked.some((line) => line.includes(`as ${caller.label}: allowed`))).toBe(true);
      expect(checked.some((line) => line.includes(`as ${caller.label}: 403`))).toBe(true);
    }
  });

  it('apply to the dashboard session of a scoped login: a read-only session cannot act', async () => {
    const s = scope();
    const gw = await listeningIn(s, redis, { token: ADMIN, tokens: TOKENS });
    const login = await gw.app.inject({
      method: 'POST',
      url: '/ui/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      payload: new URLSearchParams({ token: TOKENS[0]!.token }).toString(),
    });
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const session = await call(gw, 'GET', '/ui/api/session', undefined, { cookie });
    expect(session.status).toBe(200);
    expect((await call(gw, 'GET', '/ui/api/queues/q/tasks?state=waiting', undefined, { cookie })).status).toBe(200);
    const pause = await call(gw, 'POST', '/ui/api/queues/q/pause', undefined, { cookie, 'x-errand-csrf': session.body.csrf, 'sec-fetch-site': 'same-origin' });
    expect(pause.status).toBe(403);
    expect(pause.body.error.message).toMatch(/the token "reader" has scope read, and POST \/ui\/api\/queues\/:queue\/pause needs admin/);
    expect(await keysOf(s)).toEqual([]);
  });

  it('refuse a limited token a resource named in a body (the dashboard publish form)', async () => {
    const s = scope();
    const gw = await listeningIn(s, redis, { token: ADMIN, tokens: TOKENS });
    const auth = { authorization: `Bearer ${TOKENS[3]!.token}` };
    const refused = await call(gw, 'POST', '/ui/api/publish', { target: 'topic', name: 'other', format: 'json', text: '1' }, auth);
    expect(refused.status).toBe(403);
    expect(await keysOf(s)).toEqual([]);
    expect((await call(gw, 'POST', '/ui/api/publish', { target: 'topic', name: 't', format: 'json', text: '1' }, auth)).status).toBe(200);
  });
});

describe('docs/http-api.md § Security model', () => {
  it('lists the scope of every route the gateway has', async () => {
    const s = scope();
    const gw = await listeningIn(s, redis, { token: ADMIN, demo: true });
    const doc = readFileSync(new URL('../docs/http-api.md', import.meta.url), 'utf8');
    const start = doc.indexOf('## Security model\n');
    expect(start).toBeGreaterThan(0);
    const section = doc.slice(start, doc.indexOf('\n## ', start + 1));
    const documented = Object.fromEntries(
      [...section.matchAll(/^\| `(GET|POST|PATCH|PUT|DELETE) ([^`]+)` \| (admin|read|enqueue|any|none) \|/gm)].map((m) => [`${m[1]} ${m[2]}`, m[3]]),
    );
    const actual = Object.fromEntries(gw.routes.map((route) => [`${route.method} ${route.url}`, route.public ? 'none' : route.scope]));
    expect(documented).toEqual(actual);
  });
});
