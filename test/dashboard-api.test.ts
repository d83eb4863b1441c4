/**
 * The dashboard's server side without a browser: the shell and assets with their security
 * headers, the login and its cookie, which routes accept the cookie, the CSRF defence on
 * every state-changing call, the loopback-only rule of an open dashboard, and the UI API.
 */
import { describe, expect, it } from 'vitest';
import { useRedis, useScope } from './support/fixtures.js';
import { call, useGatewayIn } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);
const TOKEN = 'dashboard-test-token';

/** Logs in through the form; returns the session cookie ("errand_session=...") and the CSRF token. */
async function login(gw: Awaited<ReturnType<typeof useGatewayIn>>, token = TOKEN) {
  const reply = await gw.app.inject({
    method: 'POST',
    url: '/ui/login?next=%2Fqueues%2Femails%3Fstate%3Dfailed',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
    payload: new URLSearchParams({ token }).toString(),
  });
  const setCookie = String(reply.headers['set-cookie'] ?? '');
  const cookie = setCookie.split(';')[0]!;
  const session = await call(gw, 'GET', '/ui/api/session', undefined, { cookie });
  return { reply, setCookie, cookie, csrf: session.body?.csrf as string };
}

describe('pages and assets', () => {
  it('serves the shell at every view path with a strict CSP and no inline script or style', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    for (const path of ['/', '/queues/emails', '/queues/emails/tasks/7', '/workers', '/broadcast', '/demo']) {
      const reply = await call(gw, 'GET', path);
      expect(reply.status, path).toBe(200);
      expect(reply.headers['content-type']).toMatch(/^text\/html/);
      const csp = String(reply.headers['content-security-policy']);
      for (const rule of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'", "require-trusted-types-for 'script'"]) {
        expect(csp).toContain(rule);
      }
      expect(csp).not.toContain('unsafe');
      expect(reply.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' });
      expect(reply.text).not.toMatch(/<script>|<style|\sstyle=|\son\w+=/i);
    }
    expect((await call(gw, 'GET', '/no-such-page')).status).toBe(404);
  });

  it('serves the bundle with an ETag, and nothing but its files', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const js = await call(gw, 'GET', '/ui/assets/app.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    const again = await call(gw, 'GET', '/ui/assets/app.js', undefined, { 'if-none-match': String(js.headers.etag) });
    expect(again.status).toBe(304);
    expect((await call(gw, 'GET', '/ui/assets/app.css')).headers['content-type']).toMatch(/^text\/css/);
    expect((await call(gw, 'GET', '/ui/assets/favicon.svg')).status).toBe(200);
    expect((await call(gw, 'GET', '/ui/assets/..%2Fsession.js')).status).toBe(404);
    expect((await call(gw, 'GET', '/ui/assets/app.js.map')).status).toBe(404);
  });

  it('is left out when the gateway is built without it, and out of /openapi.json always', async () => {
    const s = scope();
    const off = await useGatewayIn(s, redis, { dashboard: false });
    expect((await call(off, 'GET', '/')).status).toBe(404);
    expect((await call(off, 'GET', '/ui/api/session')).status).toBe(404);
    const on = await useGatewayIn(s, redis);
    const doc = (await call(on, 'GET', '/openapi.json')).body as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((path) => path.startsWith('/ui') || !path.startsWith('/v1') && !/^\/(healthz|readyz|metrics)$/.test(path))).toEqual([]);
  });
});

describe('with a token', () => {
  it('sends a browser without a session to the login form, and back where it was after it', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis, { token: TOKEN });
    const page = await call(gw, 'GET', '/queues/emails?state=failed');
    expect([page.status, page.headers.location]).toEqual([302, '/ui/login?next=%2Fqueues%2Femails%3Fstate%3Dfailed']);
    expect((await call(gw, 'GET', '/')).headers.location).toBe('/ui/login');
    const form = await call(gw, 'GET', '/ui/login');
    expect(form.status).toBe(200);
    expect(form.text).toContain('<form method="post">');
    expect(form.text).toContain('name="token" type="password"');

    const wrong = await login(gw, 'not-the-token');
    expect(wrong.reply.statusCode).toBe(401);
    expect(wrong.reply.body).toContain("That token is not one of the gateway's tokens");
    expect(wrong.setCookie).toBe('');

    const { reply, setCookie, cookie } = await login(gw);
    expect([reply.statusCode, reply.headers.location]).toEqual([303, '/queues/emails?state=failed']);
    expect(setCookie).toMatch(/^errand_session=[\w.-]+; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict$/); // Secure over https only
    expect((await call(gw, 'GET', '/queues/emails', undefined, { cookie })).status).toBe(200);
  });

  it('never sends the browser elsewhere after the login', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis, { token: TOKEN });
    for (const next of ['//evil.example/x', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', '/ok path']) {
      const reply = await gw.app.inject({
        method: 'POST',
        url: `/ui/login?next=${encodeURIComponent(next)}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `token=${TOKEN}`,
      });
      expect([next, reply.headers.location]).toEqual([next, '/']);
    }
  });

  it('accepts the session cookie on dashboard routes only: the /v1 API keeps asking for the bearer token', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis, { token: TOKEN });
    const { cookie } = await login(gw);
    expect((await call(gw, 'GET', '/ui/api/queues/emails/tasks?state=waiting', undefined, { cookie })).status).toBe(200);
    expect((await call(gw, 'GET', '/v1/queues', undefined, { cookie })).status).toBe(401);
    expect((await call(gw, 'POST', '/v1/queues/emails/pause', undefined, { cookie })).status).toBe(401);
    // Without any credential nothing answers, reads or actions.
    expect((await call(gw, 'GET', '/ui/api/session')).status).toBe(401);
    expect((await call(gw, 'GET', '/ui/api/streams/overview')).status).toBe(401);
    expect((await call(gw, 'POST', '/ui/api/queues/emails/pause')).status).toBe(401);
    // A forged, tampered or expired cookie is no session.
    const [name, value] = cookie.split('=') as [string, string];
    const [expires, nonce, mac] = value.split('.') as [string, string, string];
    for (const bad of [`${expires}.${nonce}.${mac.slice(0, -2)}AA`, `${Number(expires) + 1000}.${nonce}.${mac}`, `1.${nonce}.${mac}`, 'garbage']) {
      expect((await call(gw, 'GET', '/ui/api/session', undefined, { cookie: `${name}=${bad}` })).status).toBe(401);
    }
    // The bearer token works everywhere, and a bearer call needs no CSRF token (browsers never send it on their own).
    const bearer = { authorization: `Bearer ${TOKEN}` };
    expect((await call(gw, 'GET', '/ui/api/session', undefined, bearer)).status).toBe(200);
    expect((await call(gw, 'POST', '/ui/api/queues/emails/pause', undefined, bearer)).body).toEqual({ name: 'emails', paused: true });
  });

  it('refuses a state-changing call with the cookie but without its CSRF token, and changes nothing', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis, { token: TOKEN });
    const queue = s.queue('emails');
    const { cookie, csrf } = await login(gw);
    const other = await login(gw);
    expect(csrf).toMatch(/^[\w-]{43}$/);
    expect(other.csrf).not.toBe(csrf); // bound to its session

    const attempts: Record<string, string>[] = [{ cookie }, { cookie, 'x-errand-csrf': 'guess' }, { cookie, 'x-errand-csrf': other.csrf }];
    for (const headers of attempts) {
      const reply = await call(gw, 'POST', '/ui/api/queues/emails/pause', undefined, headers);
      expect(reply.status).toBe(403);
      expect(reply.body.error.code).toBe('FORBIDDEN');
      expect(reply.body.error.message).toMatch(/x-errand-csrf header .* reload the dashboard/);
    }
    // A form another site submits (urlencoded body, cross-site fetch metadata) is refused before its body is read.
    const form = await gw.app.inject({
      method: 'POST',
      url: '/ui/api/queues/emails/pause',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site', 'x-errand-csrf': csrf },
      payload: 'a=1',
    });
    expect(form.statusCode).toBe(403);
    expect(JSON.parse(form.body).error.message).toMatch(/cross-site request refused/);
    expect((await queue.counts()).paused).toBe(false);

    const ok = await call(gw, 'POST', '/ui/api/queues/emails/pause', undefined, { cookie, 'x-errand-csrf': csrf, 'sec-fetch-site': 'same-origin' });
    expect([ok.status, ok.body]).toEqual([200, { name: 'emails', paused: true }]);
    expect((await queue.counts()).paused).toBe(true);
  });

  it('refuses a login posted from another site, and logs out', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis, { token: TOKEN });
    const crossSite = await gw.app.inject({
      method: 'POST',
      url: '/ui/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' },
      payload: `token=${TOKEN}`,
    });
    expect(crossSite.statusCode).toBe(403);
    expect(crossSite.headers['set-cookie']).toBeUndefined();

    const { cookie, csrf } = await login(gw);
    const out = await call(gw, 'POST', '/ui/logout', undefined, { cookie, 'x-errand-csrf': csrf });
    expect(out.status).toBe(200);
    expect(out.headers['set-cookie']).toBe('errand_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict');
  });
});

describe('without a token', () => {
  it('still needs the CSRF token for actions, and answers only loopback Host names', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const queue = s.queue('emails');
    const session = await call(gw, 'GET', '/ui/api/session');
    expect(session.body).toMatchObject({ auth: false, demo: null, searchScanLimit: 10_000 });
    expect((await call(gw, 'POST', '/ui/api/queues/emails/pause')).status).toBe(403);
    expect((await queue.counts()).paused).toBe(false);
    const ok = await call(gw, 'POST', '/ui/api/queues/emails/pause', undefined, { 'x-errand-csrf': session.body.csrf });
    expect(ok.status).toBe(200);

    // A DNS name rebound to 127.0.0.1 gets nothing from an open dashboard.
    for (const host of ['evil.example', 'evil.example:8080', '10.0.0.5']) {
      const reply = await call(gw, 'GET', '/ui/api/session', undefined, { host });
      expect([host, reply.status]).toEqual([host, 403]);
      expect(reply.body.error.message).toMatch(/answers only requests to loopback names/);
    }
    for (const host of ['127.0.0.1:8080', 'localhost', '[::1]:8080']) {
      expect((await call(gw, 'GET', '/', undefined, { host })).status).toBe(200);
    }
  });
});

describe('the UI API', () => {
  it('lists tasks by state as previews, shows one in full, and acts on it', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const { csrf } = (await call(gw, 'GET', '/ui/api/session')).body;
    const queue = s.queue('emails');
    const long = 'x'.repeat(500);
    const task = await queue.enqueue({ to: 'ada@example.com', body: long }, { dedupeKey: 'welcome:ada' });

    const page = await call(gw, 'GET', '/ui/api/queues/emails/tasks?state=waiting');
    expect(page.body).toMatchObject({ state: 'waiting', offset: 0, limit: 25 });
    expect(page.body.tasks).toHaveLength(1);
    expect(page.body.tasks[0]).toMatchObject({ id: task.id, state: 'waiting', attempt: 0, maxAttempts: 3 });
    expect(page.body.tasks[0].payload).toHaveLength(200);
    expect(page.body.tasks[0].payload.endsWith('…')).toBe(true);

    const detail = await call(gw, 'GET', `/ui/api/queues/emails/tasks/${task.id}`);
    expect(detail.body).toMatchObject({ id: task.id, payload: { to: 'ada@example.com', body: long }, dedupeKey: 'welcome:ada' });
    expect((await call(gw, 'GET', '/ui/api/queues/emails/tasks/404')).body.error.code).toBe('TASK_NOT_FOUND');
    expect((await call(gw, 'GET', '/ui/api/queues/bad%20name/tasks?state=waiting')).status).toBe(400);
    expect((await call(gw, 'GET', '/ui/api/queues/emails/tasks?state=lost')).status).toBe(400);

    const post = (url: string) => call(gw, 'POST', url, undefined, { 'x-errand-csrf': csrf });
    expect((await post(`/ui/api/queues/emails/tasks/${task.id}/retry`)).body.error.code).toBe('INVALID_STATE');
    expect((await post(`/ui/api/queues/emails/tasks/${task.id}/cancel`)).body).toEqual({ id: task.id, state: 'cancelled' });
    expect((await post(`/ui/api/queues/emails/tasks/${task.id}/retry`)).body).toEqual({ id: task.id, state: 'waiting' });
    expect((await post(`/ui/api/queues/emails/tasks/${task.id}/remove`)).body).toEqual({ id: task.id, state: 'removed' });
    expect(await queue.getTask(task.id)).toBeNull();
  });

  it('searches by id and payload text, saying how much it read', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const queue = s.queue('orders');
    const tasks = await queue.enqueueMany(Array.from({ length: 30 }, (_, i) => ({ payload: { order: i, email: `buyer-${i}@example.org` } })));
    const found = await call(gw, 'GET', `/ui/api/queues/orders/search?text=${encodeURIComponent('BUYER-17@')}`);
    expect(found.body).toMatchObject({ text: 'BUYER-17@', byId: null, scanned: 30, scanLimit: 10_000, stoppedBy: 'end' });
    expect(found.body.matches.map((t: { id: string }) => t.id)).toEqual([tasks[17]!.id]);
    const byId = await call(gw, 'GET', `/ui/api/queues/orders/search?text=${tasks[3]!.id}`);
    expect(byId.body.byId).toMatchObject({ id: tasks[3]!.id, state: 'waiting' });
    expect((await call(gw, 'GET', '/ui/api/queues/orders/search?text=')).status).toBe(400);
  });
});
