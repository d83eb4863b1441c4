/**
 * The dashboard's defences in headless Chromium: task data full of XSS payloads (in
 * payloads and their keys, results, error names and messages, stacks, dedupe keys, search
 * text and addresses) and broadcast data (raw channel names, subscriber group names, dead
 * letters' errors and messages, names echoed by the publish form's answers and errors)
 * renders as text and never runs; the CSP blocks what escaping would have let through; and
 * with a token, the login form guards every page while a page on another origin cannot
 * act through the logged-in browser.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { Broadcast, Topic } from '../src/index.js';
import { useBrowser } from './support/browser.js';
import { expectCleanPage, openPage, startDashboard, waitForText } from './support/dashboard.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const chromium = useBrowser();

/** Each would set window.__xss (or open a dialog) if it ever ran as HTML or script. */
const PAYLOADS = [
  '<script>window.__xss=true</script>',
  '<img src=x onerror="window.__xss=true">',
  '<svg onload="window.__xss=true"></svg>',
  '<svg><script>window.__xss=true</script></svg>',
  'javascript:window.__xss=true',
  '"><script>window.__xss=true</script>',
  "'><img src=x onerror=window.__xss=true>",
  '" onmouseover="window.__xss=true" data-x="',
  '${window.__xss=true}',
  "{{constructor.constructor('window.__xss=true')()}}",
  '<iframe src="javascript:parent.__xss=true"></iframe>',
  '<iframe srcdoc="<script>parent.__xss=true</script>"></iframe>',
  '<details open ontoggle="window.__xss=true">',
  '<a href="javascript:window.__xss=true">click me</a>',
  '\\u003cscript\\u003ewindow.__xss=true\\u003c/script\\u003e',
  '<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=true>',
  '<input autofocus onfocus="window.__xss=true">',
  '</pre><script>window.__xss=true</script><pre>',
  '</textarea></title></style><script>window.__xss=true</script>',
  '<!--<img src="--><img src=x onerror=window.__xss=true//">',
  '＜script＞window.__xss=true＜/script＞',
  '<ScRiPt>alert(1)</sCrIpT>',
  '<object data="javascript:window.__xss=true"></object>',
  '<video><source onerror="window.__xss=true"></video>',
  '\u202e<img src=x onerror=alert(document.domain)>',
  '&lt;img src=x onerror=window.__xss=true&gt;',
  '<body onload=window.__xss=true>',
  '<a href="data:text/html,<script>parent.__xss=true</script>">x</a>',
];

/** Elements the dashboard itself draws; anything else in the page came from data. */
const OWN_TAGS = new Set(
  'html head meta link title script body div p header a nav span button main h1 h2 h3 section table thead tbody tfoot tr th td code pre dl dt dd details summary strong q form input i dialog svg g line text rect noscript label textarea fieldset legend'.split(' '),
);

/** Fails if the page holds an element, handler attribute or link that data could have made. */
async function expectInert(page: Page): Promise<void> {
  const found = (await page.evaluate(`(() => {
    const found = { tags: [], handlers: [], links: [], scripts: document.scripts.length };
    for (const el of document.querySelectorAll('*')) {
      found.tags.push(el.localName);
      for (const attr of el.attributes) if (/^on/i.test(attr.name)) found.handlers.push(el.localName + ' ' + attr.name);
      const href = el.getAttribute('href');
      if (href !== null && !href.startsWith('/')) found.links.push(href);
    }
    return found;
  })()`)) as { tags: string[]; handlers: string[]; links: string[]; scripts: number };
  expect(found.tags.filter((tag) => !OWN_TAGS.has(tag))).toEqual([]);
  expect(found.handlers).toEqual([]);
  expect(found.links).toEqual([]);
  expect(found.scripts).toBe(1); // app.js
}

/** Moves the dashboard to `path` the way its own links do (no page load: many pages, quickly). */
async function visit(page: Page, path: string): Promise<void> {
  await page.evaluate(`history.pushState(null, '', ${JSON.stringify(path)}); dispatchEvent(new PopStateEvent('popstate'))`);
}

function preview(text: string): string {
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

describe('task data in the dashboard', () => {
  it(`renders ${PAYLOADS.length} XSS payloads in payloads, results, errors, dedupe keys, search and addresses as text`, { timeout: 180_000 }, async () => {
    expect(new Set(PAYLOADS).size).toBeGreaterThanOrEqual(20);
    const s = scope();
    const gw = await startDashboard(s, redis);
    const queue = s.queue<unknown, string>('xss');
    s.worker<{ text: string; mode: string } | string, string>('xss', async (task) => {
      if (typeof task.payload === 'string') return task.payload;
      const error = new Error(task.payload.text);
      error.name = task.payload.text;
      throw error;
    });
    const failing = new Map<string, string>();
    const completing = new Map<string, string>();
    for (const p of PAYLOADS) {
      const failed = await queue.enqueue({ text: p, mode: 'fail', [p]: 1 }, { attempts: 1, dedupeKey: p });
      await failed.result().catch(() => undefined);
      failing.set(p, failed.id);
      const done = await queue.enqueue(p);
      await done.result();
      completing.set(p, done.id);
    }

    // Escaping alone is under test: the CSP is bypassed, so anything parsed as HTML would run.
    const watched = await openPage(s, chromium.browser, { bypassCSP: true });
    const { page } = watched;

    // The failed list, over two pages: payload and error previews.
    const rows: Record<string, { payload: string; error: string }> = {};
    await page.goto(`${gw.url}/`);
    await page.waitForSelector('tr[data-queue="xss"]');
    for (const offset of [0, 25]) {
      await visit(page, `/queues/xss?state=failed&offset=${offset}`);
      await page.waitForSelector('[data-task-list] tr[data-task]');
      const found = await page.$$eval('[data-task-list] tr[data-task]', (trs) =>
        trs.map((tr) => [tr.getAttribute('data-task'), tr.querySelector('[data-field="payload-preview"]')?.textContent, tr.querySelector('[data-field="error-preview"]')?.textContent]),
      );
      for (const [id, payload, error] of found) rows[id!] = { payload: payload!, error: error! };
      await expectInert(page);
    }
    for (const p of PAYLOADS) {
      expect(rows[failing.get(p)!]).toEqual({ payload: preview(JSON.stringify({ text: p, mode: 'fail', [p]: 1 })), error: preview(`${p}: ${p}`) });
    }

    // Every task page: payload, result, error, attempt history, stack, dedupe key.
    for (const p of PAYLOADS) {
      await visit(page, `/queues/xss/tasks/${failing.get(p)}`);
      await page.waitForSelector('[data-field="attempt-error"]');
      expect(await page.textContent('[data-field="payload"]')).toBe(JSON.stringify({ text: p, mode: 'fail', [p]: 1 }, null, 2));
      expect(await page.textContent('[data-field="error"] [data-part="name"]')).toBe(p);
      expect(await page.textContent('[data-field="error"] [data-part="message"]')).toBe(p);
      expect(await page.textContent('[data-field="attempt-error"] [data-part="message"]')).toBe(p);
      expect(await page.textContent('[data-field="error"] [data-part="stack"]')).toContain(p);
      expect(await page.textContent('[data-field="dedupe-key"]')).toBe(p);
      await expectInert(page);

      await visit(page, `/queues/xss/tasks/${completing.get(p)}`);
      await page.waitForSelector('[data-field="result"]');
      expect(await page.textContent('[data-field="payload"]')).toBe(JSON.stringify(p));
      expect(await page.textContent('[data-field="result"]')).toBe(JSON.stringify(p));
      await expectInert(page);
    }

    // Search text echoed back, and the tasks it finds.
    for (const p of PAYLOADS) {
      await visit(page, `/queues/xss?search=${encodeURIComponent(p)}`);
      await page.waitForSelector('[data-search-results]');
      expect(await page.textContent('[data-search-text]')).toBe(p);
      const ids = await page.$$eval('[data-search-results] tr[data-task]', (trs) => trs.map((tr) => tr.getAttribute('data-task')));
      expect(ids).toEqual(expect.arrayContaining([failing.get(p), completing.get(p)]));
      expect(await page.inputValue('input[name=search]')).toBe(p);
      await expectInert(page);
    }

    // Payloads in the address: not a queue name, not a task id; said as text.
    for (const p of PAYLOADS.slice(0, 8)) {
      await visit(page, `/queues/${encodeURIComponent(p)}`);
      await waitForText(watched, '.view .flash-error', `${JSON.stringify(p)} is not a queue name: names have 1-128 characters from A-Z a-z 0-9 . _ -`);
      expect(await page.textContent('.crumbs')).toBe(`Queues / ${p}`);
      await visit(page, `/queues/xss/tasks/${encodeURIComponent(p)}`);
      await waitForText(watched, '.crumbs', `Queues / xss / ${p}`);
      await expectInert(page);
    }
    await expectCleanPage(watched);

    // The same pages with the CSP in force see no violation at all: nothing even tried to run.
    const strict = await openPage(s, chromium.browser);
    await strict.page.goto(`${gw.url}/queues/xss?state=failed`);
    await strict.page.waitForSelector('[data-task-list] tr[data-task]');
    for (const p of PAYLOADS.slice(0, 6)) {
      await strict.page.goto(`${gw.url}/queues/xss/tasks/${failing.get(p)}`);
      await strict.page.waitForSelector('[data-field="attempt-error"]');
    }
    await strict.page.goto(`${gw.url}/`);
    await strict.page.waitForSelector('tr[data-queue="xss"]');
    await expectCleanPage(strict);
  });

  it(`renders ${PAYLOADS.length} XSS payloads in channel and group names, dead letters and publish answers as text`, { timeout: 180_000 }, async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    // Raw channel names may hold any character: a plain client subscribes to each payload.
    const listener = s.client();
    await listener.subscribe(...PAYLOADS);
    // Group names made by another Redis client are not checked by Errand either.
    const groups = s.add(new Topic('groups', { connection: redis.url, prefix: s.prefix }));
    await groups.publish('hello');
    const admin = s.client();
    for (const p of PAYLOADS) await admin.xgroup('CREATE', `${s.prefix}:topic:{groups}:stream`, p, '0');
    // Names in the topic registry that no Errand topic can have are left out, not shown.
    await admin.sadd(`${s.prefix}:topics`, ...PAYLOADS.slice(0, 5));
    // Dead letters whose errors and messages are payloads: five per topic, the most the page shows.
    const letters = new Map<string, { error: string; message: string }>();
    for (let t = 0; t * 5 < PAYLOADS.length; t++) {
      const topic = s.add(new Topic<{ text: string }>(`letters${t}`, { connection: redis.url, prefix: s.prefix }));
      const chunk = PAYLOADS.slice(t * 5, t * 5 + 5);
      let dead = 0;
      const allDead = new Promise<void>((resolve) => {
        const member = topic.subscribe(
          'dl',
          (message) => {
            const error = new Error(message.text);
            error.name = message.text;
            throw error;
          },
          { attempts: 1, from: 'earliest' },
        );
        member.on('failed', (_meta, _error, deadLettered) => void (deadLettered && ++dead === chunk.length && resolve()));
        member.on('error', (error) => s.errors.push(error));
        s.add({ close: () => member.close({ timeoutMs: 2_000 }) });
      });
      const ids = await topic.publishMany(chunk.map((p) => ({ text: p, [p]: 1 })));
      await allDead;
      chunk.forEach((p, i) => letters.set(ids[i]!, { error: preview(`${p}: ${p}`), message: preview(JSON.stringify({ text: p, [p]: 1 })) }));
    }

    const watched = await openPage(s, chromium.browser, { bypassCSP: true });
    const { page } = watched;
    await page.goto(`${gw.url}/broadcast`);
    await page.waitForSelector('tr[data-topic="letters5"]');
    await page.waitForSelector('tr[data-channel]');
    const channels = await page.$$eval('tr[data-channel]', (trs) => trs.map((tr) => [tr.getAttribute('data-channel'), tr.querySelector('[data-field="channel-name"]')?.textContent]));
    expect(channels.map(([attr]) => attr).sort()).toEqual([...PAYLOADS].sort());
    for (const [attr, text] of channels) expect(text).toBe(attr);
    const groupNames = await page.$$eval('tr[data-of-topic="groups"][data-group] [data-field="group-name"]', (tds) => tds.map((td) => td.textContent));
    expect([...groupNames].sort()).toEqual([...PAYLOADS].sort());
    expect(await page.$$eval('tr[data-topic] [data-field="topic-name"]', (tds) => tds.map((td) => td.textContent))).toEqual(['groups', 'letters0', 'letters1', 'letters2', 'letters3', 'letters4', 'letters5']);
    const shown = await page.$$eval('tr[data-dead-letter]', (trs) =>
      trs.map((tr) => [tr.getAttribute('data-dead-letter'), tr.querySelector('[data-field="dl-error"]')?.textContent, tr.querySelector('[data-field="dl-message"]')?.textContent]),
    );
    expect(shown).toHaveLength(PAYLOADS.length);
    for (const [id, error, message] of shown) expect({ error, message }).toEqual(letters.get(id!));
    await expectInert(page);

    // Names echoed back by the publish form: a raw channel's answer, a JSON channel's refusal.
    for (const p of PAYLOADS.slice(0, 8)) {
      await page.fill('input[name=name]', p);
      await page.check('input[name=raw]');
      await page.fill('textarea[name=message]', p);
      await page.click('button[data-action="publish"]');
      expect(await page.textContent('dialog.confirm h2')).toBe(`Publish to raw channel ${p}?`);
      await page.click('dialog.confirm button[data-confirm]');
      await waitForText(watched, '[data-publish-result]', `Published on raw channel ${p}: 1 subscriber connection received it.`);
      await page.uncheck('input[name=raw]');
      await page.check('input[name=format][value=text]');
      await page.click('button[data-action="publish"]');
      await page.click('dialog.confirm button[data-confirm]');
      await waitForText(watched, '[data-publish-result]', `Publish failed: invalid channel name ${JSON.stringify(p)}: use 1-128 characters from A-Z a-z 0-9 . _ - (INVALID_ARGUMENT)`);
      await expectInert(page);
    }
    await expectCleanPage(watched);

    const strict = await openPage(s, chromium.browser);
    await strict.page.goto(`${gw.url}/broadcast`);
    await strict.page.waitForSelector('tr[data-dead-letter]');
    await strict.page.waitForSelector('tr[data-channel]');
    await expectCleanPage(strict);
  });

  it('is guarded by its CSP and Trusted Types: HTML strings, handlers, inline styles and other origins are refused', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/`);
    await page.waitForSelector('.live');
    const outcome = await page.evaluate(`(async () => {
      const seen = [];
      const all = new Promise((resolve) => document.addEventListener('securitypolicyviolation', (e) => {
        seen.push(e.violatedDirective);
        if (seen.length === 4) resolve(seen.sort());
      }));
      const refused = (f) => { try { f(); return 'allowed'; } catch (error) { return error.name; } };
      const html = refused(() => document.body.insertAdjacentHTML('beforeend', '<img src=x onerror="window.__xss = true">'));
      const handler = refused(() => document.createElement('img').setAttribute('onerror', 'window.__xss = true'));
      const style = document.createElement('style');
      style.textContent = 'body { display: none }';
      document.head.append(style);
      const img = document.createElement('img');
      img.src = 'http://127.0.0.2:9/pixel.png';
      document.body.append(img);
      return { html, handler, violations: await all };
    })()`);
    expect(outcome).toEqual({
      html: 'TypeError',
      handler: 'TypeError',
      violations: ['img-src', 'require-trusted-types-for', 'require-trusted-types-for', 'style-src-elem'],
    });
    expect((await watched.xss()).ran).toBe(false);
  });
});

/** A page on another origin (another port of this host) that tries to act through the browser; `/form` posts `form` at once. */
async function attackerSite(
  target: string,
  form = `<form id="f" method="post" action="${target}/ui/api/queues/target/pause"><input name="a" value="1"></form>`,
): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    response.setHeader('content-type', 'text/html');
    response.end(request.url === '/form' ? `${form}<script>document.getElementById('f').submit()</script>` : '<p>attacker</p>');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, server, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('without a token, in a browser', () => {
  it("cannot be made to act on /v1 by a page on another local port: no-cors POSTs and form posts are refused, nothing written", async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    await s.queue('target').enqueue('x');
    const keysBefore = (await s.client().keys(`${s.prefix}*`)).sort();
    const attacker = s.add(
      await attackerSite(gw.url, `<form id="f" method="post" action="${gw.url}/v1/queues/target/tasks" enctype="text/plain"><input name='{"payload":"forged","x":"' value='"}'></form>`),
    );
    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${attacker.url}/`);
    // fetch without CORS ("simple" requests, no preflight): a body-less POST and a text/plain one.
    const outcome = await page.evaluate(`(async () => {
      const sent = [];
      for (const [path, body] of [['/v1/queues/target/pause', undefined], ['/v1/queues/target/tasks', '{"payload":"forged"}']]) {
        try { await fetch(${JSON.stringify(gw.url)} + path, { method: 'POST', mode: 'no-cors', body }); sent.push(path); } catch (e) { sent.push('failed ' + path); }
      }
      return sent;
    })()`);
    expect(outcome).toEqual(['/v1/queues/target/pause', '/v1/queues/target/tasks']); // the browser sent both
    await page.goto(`${attacker.url}/form`); // and a form post
    await page.waitForLoadState('load');
    const counts = await s.queue('target').counts();
    expect([counts.paused, counts.waiting]).toEqual([false, 1]);
    expect((await s.client().keys(`${s.prefix}*`)).sort()).toEqual(keysBefore);
  });
});

describe('with a token, in a browser', () => {
  it('logs in with the token, comes back to the page asked for, and logs out', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis, { token: 'browser-token' });
    await s.queue('emails').enqueue('x');
    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/queues/emails?state=waiting`);
    expect(page.url()).toBe(`${gw.url}/ui/login?next=%2Fqueues%2Femails%3Fstate%3Dwaiting`);
    await page.fill('input[name=token]', 'wrong');
    await page.click('button[type=submit]');
    await page.waitForSelector('.flash-error');
    expect(await page.textContent('.flash-error')).toBe("That token is not one of the gateway's tokens. Try again.");
    await page.fill('input[name=token]', 'browser-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-task-list] tr[data-task]');
    expect(page.url()).toBe(`${gw.url}/queues/emails?state=waiting`);
    const cookie = (await watched.context.cookies()).find((c) => c.name === 'errand_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(await page.evaluate('document.cookie')).toBe(''); // page scripts cannot read it

    await page.click('button[data-action="logout"]');
    await page.waitForURL(`${gw.url}/ui/login`);
    await page.goto(`${gw.url}/workers`);
    expect(page.url()).toBe(`${gw.url}/ui/login?next=%2Fworkers`);
    await expectCleanPage(watched);
  });

  it('refuses actions a page on another origin sends through the logged-in browser', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis, { token: 'browser-token' });
    const target = s.queue('target');
    await target.enqueue('x');
    const attacker = s.add(await attackerSite(gw.url));
    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/ui/login`);
    await page.fill('input[name=token]', 'browser-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('tr[data-queue="target"]');

    // A form post: the browser follows it to the gateway, which refuses it.
    await page.goto(`${attacker.url}/form`);
    await page.waitForURL(`${gw.url}/ui/api/queues/target/pause`);
    expect(JSON.parse((await page.textContent('body'))!)).toMatchObject({ error: { code: 'FORBIDDEN' } });
    // A no-cors fetch with the browser's cookies.
    await page.goto(`${attacker.url}/`);
    await page.evaluate(`fetch(${JSON.stringify(`${gw.url}/ui/api/queues/target/pause`)}, { method: 'POST', mode: 'no-cors', credentials: 'include' }).catch(() => {})`);
    expect((await target.counts()).paused).toBe(false);

    // The dashboard itself still can.
    await page.goto(`${gw.url}/queues/target`);
    await page.click('button[data-action="pause"]');
    await page.click('dialog.confirm button[data-confirm]');
    await waitForText(watched, '.title-badge [data-state]', 'paused');
    expect((await target.counts()).paused).toBe(true);
  });
});

describe('publishing a test message, with a token', () => {
  it('refuses a publish a page on another origin sends through the logged-in browser; the dashboard itself publishes', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis, { token: 'browser-token' });
    const received: unknown[] = [];
    let arrived!: () => void;
    const first = new Promise<void>((resolve) => (arrived = resolve));
    const bus = s.add(new Broadcast({ connection: redis.url, prefix: s.prefix }));
    await bus.subscribe('news', (message) => {
      received.push(message);
      arrived();
    });
    // A text/plain form whose body spells valid JSON: the classic way around a JSON-only API.
    const forged = '{"target":"channel","name":"news","raw":false,"format":"text","text":"forged';
    const attacker = s.add(
      await attackerSite(gw.url, `<form id="f" method="post" enctype="text/plain" action="${gw.url}/ui/api/publish"><input name='${forged}' value='"}'></form>`),
    );
    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/ui/login?next=%2Fbroadcast`);
    await page.fill('input[name=token]', 'browser-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-publish] form');

    await page.goto(`${attacker.url}/form`);
    await page.waitForURL(`${gw.url}/ui/api/publish`);
    expect(JSON.parse((await page.textContent('body'))!)).toMatchObject({ error: { code: 'FORBIDDEN' } });
    await page.goto(`${attacker.url}/`);
    // A no-cors fetch with the browser's cookies (its answer is refused to the page by CORP as well).
    await page.evaluate(
      `fetch(${JSON.stringify(`${gw.url}/ui/api/publish`)}, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(`${forged}"}`)} }).catch(() => {})`,
    );

    await page.goto(`${gw.url}/broadcast`);
    await page.fill('input[name=name]', 'news');
    await page.fill('textarea[name=message]', '"from the dashboard"');
    await page.click('button[data-action="publish"]');
    await page.click('dialog.confirm button[data-confirm]');
    await first;
    expect(received).toEqual(['from the dashboard']); // the first and only message: the forged ones never got through
    await waitForText(watched, '[data-publish-result]', 'Published on channel news: 1 subscriber connection received it.');
    await expectCleanPage(watched);
  });
});
