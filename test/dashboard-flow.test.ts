/**
 * The dashboard's flow-control faces in headless Chromium against a real gateway and Redis:
 * the settings panel shows the settings kept in Redis, says beside each field what it
 * cannot read or what the gateway refused (writing nothing), and saves a change every
 * reader sees; the groups panel lists groups by backlog a page at a time and pauses and
 * resumes one. A refused change over the UI API names each wrong field.
 */
import { describe, expect, it } from 'vitest';
import { useBrowser } from './support/browser.js';
import { expectCleanPage, openPage, startDashboard, waitForText } from './support/dashboard.js';
import { call } from './support/gateway.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const chromium = useBrowser();

describe('dashboard flow control', () => {
  it('shows the settings, says what is wrong beside each field writing nothing, and saves a change', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const queue = s.queue('mail');
    await queue.configure({ concurrency: 20, retention: { completed: { count: 500 } } });
    await queue.enqueue('x');

    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/queues/mail`);
    await waitForText(
      watched,
      '[data-settings-summary]',
      'max waiting none · concurrency 20 · rate limit none · each group: concurrency none, rate none (version 1)',
    );
    await page.click('[data-settings] summary');
    expect(await page.inputValue('input[name="concurrency"]')).toBe('20');
    expect(await page.inputValue('input[name="retention.completed.count"]')).toBe('500');
    expect(await page.inputValue('input[name="rateLimit.max"]')).toBe('');

    // What the form cannot read is said before anything is sent.
    await page.fill('input[name="maxWaiting"]', 'lots');
    await page.fill('input[name="rateLimit.max"]', '100');
    await page.click('button[data-action="save-settings"]');
    expect(await page.textContent('[data-error-for="maxWaiting"]')).toBe('"lots" is not a whole number (leave it empty for no limit)');
    expect(await page.textContent('[data-error-for="rateLimit.perMs"]')).toBe('a rate limit needs both the tasks and the window (leave both empty for none)');
    expect(await page.locator('dialog.confirm').count()).toBe(0);

    // What the gateway refuses comes back by field; nothing is written.
    await page.fill('input[name="maxWaiting"]', '');
    await page.fill('input[name="rateLimit.perMs"]', '1000');
    await page.fill('input[name="concurrency"]', '0');
    await page.click('button[data-action="save-settings"]');
    await page.click('dialog.confirm button[data-confirm]');
    await page.waitForSelector('[data-error-for="concurrency"]:not(:empty)');
    expect(await page.textContent('[data-error-for="concurrency"]')).toMatch(/>=\s*1/);
    expect(await page.textContent('[data-error-for="maxWaiting"]')).toBe('');
    expect((await queue.settings()).version).toBe(1);

    await page.fill('input[name="concurrency"]', '5');
    await page.click('button[data-action="save-settings"]');
    await page.click('dialog.confirm button[data-confirm]');
    await waitForText(watched, '.flash-ok', 'Settings of mail saved (version 2).×');
    expect(await queue.settings()).toMatchObject({
      version: 2,
      concurrency: 5,
      rateLimit: { max: 100, perMs: 1000 },
      retention: { completed: { count: 500 } },
    });
    expect(await page.textContent('[data-settings-summary]')).toBe(
      'max waiting none · concurrency 5 · rate limit 100 per 1.00 s · each group: concurrency none, rate none (version 2)',
    );
    expect(await page.textContent('[data-error-for="concurrency"]')).toBe('');
    await expectCleanPage(watched);
  });

  it('lists groups by backlog a page at a time, and pauses and resumes one', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const queue = s.queue('tenants');
    // 12 groups, group gNN with NN + 1 tasks: the largest backlog is g11's.
    for (let n = 0; n < 12; n++) {
      const group = `g${String(n).padStart(2, '0')}`;
      await queue.enqueueMany(Array.from({ length: n + 1 }, (_, i) => ({ payload: i, group })));
    }
    await queue.configureGroup('g05', { concurrency: 2 });

    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/queues/tenants`);
    await waitForText(watched, '[data-groups] h2', 'Groups: 12, largest backlog first');
    expect(await page.textContent('[data-card="groups"] .card-value')).toBe('12');
    const names = async () => page.$$eval('[data-groups] tr[data-group]', (rows) => rows.map((row) => row.getAttribute('data-group')));
    expect(await names()).toEqual(['g11', 'g10', 'g09', 'g08', 'g07', 'g06', 'g05', 'g04', 'g03', 'g02']);
    expect(await page.textContent('tr[data-group="g11"] [data-col="waiting"]')).toBe('12');
    expect(await page.textContent('tr[data-group="g05"] [data-col="limits"]')).toBe('concurrency 2');

    await page.click('[data-groups] a:has-text("smaller ›")');
    await page.waitForURL(`${gw.url}/queues/tenants?groups=10`);
    await page.waitForSelector('tr[data-group="g00"]');
    expect(await names()).toEqual(['g01', 'g00']);

    await page.click('tr[data-group="g01"] button[data-action="pause-group"]');
    expect(await page.textContent('dialog.confirm h2')).toBe('Pause group g01 of tenants?');
    await page.click('dialog.confirm button[data-confirm]');
    await waitForText(watched, '.flash-ok', 'Group g01 is paused.×');
    await waitForText(watched, 'tr[data-group="g01"] [data-state]', 'paused');
    expect((await queue.groups()).groups.find((g) => g.name === 'g01')?.paused).toBe(true);
    await page.click('tr[data-group="g01"] button[data-action="resume-group"]');
    await page.click('dialog.confirm button[data-confirm]');
    await waitForText(watched, 'tr[data-group="g01"] [data-state]', 'running');
    expect((await queue.groups()).groups.find((g) => g.name === 'g01')?.paused).toBe(false);
    await expectCleanPage(watched);
  });

  it("shows a partitioned queue's partitions, and changes their count from the settings form", async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const queue = s.queue('wide');
    await queue.configure({ partitions: 2 });
    await queue.enqueueMany(Array.from({ length: 256 }, (_, i) => ({ payload: i })));

    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/queues/wide`);
    await waitForText(watched, '[data-partitions] h2', '2 partitions');
    expect(await page.textContent('[data-card="waiting"] .card-value')).toBe('256');
    const rows = async () => page.$$eval('[data-partitions] tr[data-partition]', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(await rows()).toEqual([
      ['0', 'routed', '128', '0', '0', '0', '0'],
      ['1', 'routed', '128', '0', '0', '0', '0'],
    ]);
    await page.click('[data-settings] summary');
    expect(await page.inputValue('input[name="partitions"]')).toBe('2');
    await page.fill('input[name="partitions"]', '3');
    await page.click('button[data-action="save-settings"]');
    await page.click('dialog.confirm button[data-confirm]');
    await waitForText(watched, '[data-partitions] h2', '3 partitions');
    expect((await queue.settings()).partitions).toBe(3);
    expect(await page.textContent('[data-settings-summary]')).toMatch(/· 3 partitions \(version 2\)$/);
    await expectCleanPage(watched);
  });

  it('answers a refused settings change with what is wrong with each field, over the UI API', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const session = await call(gw, 'GET', '/ui/api/session');
    const headers = { 'x-errand-csrf': session.body.csrf, 'sec-fetch-site': 'same-origin' };
    const refused = await call(gw, 'POST', '/ui/api/queues/mail/settings', { concurrency: 0, rateLimit: { max: 'many', perMs: 1000 }, colour: 'red' }, headers);
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('INVALID_ARGUMENT');
    expect(Object.keys(refused.body.fields).sort()).toEqual(['colour', 'concurrency', 'rateLimit.max']);
    expect(refused.body.fields.colour).toBe('not a setting');
    expect(await s.client().keys(`${s.prefix}*`)).toEqual([]);
    // Without the CSRF header, nothing is changed either.
    expect((await call(gw, 'POST', '/ui/api/queues/mail/settings', { concurrency: 3 }, { 'sec-fetch-site': 'same-origin' })).status).toBe(403);
    expect(await s.client().keys(`${s.prefix}*`)).toEqual([]);
    const saved = await call(gw, 'POST', '/ui/api/queues/mail/settings', { concurrency: 3 }, headers);
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({ version: 1, concurrency: 3 });
  });
});
