/**
 * The schedules page in headless Chromium against a real gateway and Redis: every
 * schedule of every queue with its cadence, state, next run and last run (a link to its
 * task), kept live as runs are created; pause, resume, run now and remove, each confirmed,
 * each checked against what Redis then holds.
 */
import { describe, expect, it } from 'vitest';
import { useBrowser } from './support/browser.js';
import { expectCleanPage, openPage, startDashboard, waitForText } from './support/dashboard.js';
import { useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const chromium = useBrowser();

describe('the schedules page', () => {
  it('lists every schedule live, and pauses, resumes, runs now and removes one', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const reports = s.queue('reports');
    const ticks = s.queue('ticks');
    await reports.schedule('nightly', { cron: '0 3 * * *', tz: 'Europe/Berlin', payload: { kind: 'daily' } });
    await ticks.schedule('beat', { everyMs: 1_000, payload: 'tick' });

    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/schedules`);
    await page.waitForSelector('tr[data-schedule="ticks/beat"]');
    const rows = await page.$$eval('tr[data-schedule]', (trs) => trs.map((tr) => tr.getAttribute('data-schedule')));
    expect(rows).toEqual(['reports/nightly', 'ticks/beat']);
    expect(await page.textContent('tr[data-schedule="reports/nightly"] [data-col="cadence"]')).toBe('cron 0 3 * * * (Europe/Berlin)');
    expect(await page.textContent('tr[data-schedule="ticks/beat"] [data-col="cadence"]')).toBe('every 1 s');
    expect(await page.textContent('tr[data-schedule="ticks/beat"] [data-state]')).toBe('active');

    // A worker takes the runs: the page shows the last one, linked to its task.
    s.worker('ticks', async (task) => task.payload);
    await page.waitForSelector('tr[data-schedule="ticks/beat"] [data-col="last"] a');
    const href = await page.getAttribute('tr[data-schedule="ticks/beat"] [data-col="last"] a', 'href');
    expect(href).toMatch(/^\/queues\/ticks\/tasks\/sched%3Abeat%3A\d+$/);

    await page.click('tr[data-schedule="ticks/beat"] button[data-action="pause-schedule"]');
    expect(await page.textContent('dialog.confirm h2')).toBe('Pause schedule beat of ticks?');
    await page.click('dialog.confirm button[data-confirm]');
    await waitForText(watched, '.flash-ok', 'Schedule beat is paused.×');
    await waitForText(watched, 'tr[data-schedule="ticks/beat"] [data-state]', 'paused');
    expect((await ticks.getSchedule('beat'))?.paused).toBe(true);
    await page.click('tr[data-schedule="ticks/beat"] button[data-action="resume-schedule"]');
    await page.click('dialog.confirm button[data-confirm]');
    await waitForText(watched, 'tr[data-schedule="ticks/beat"] [data-state]', 'active');

    await page.click('tr[data-schedule="reports/nightly"] button[data-action="run-schedule"]');
    await page.click('dialog.confirm button[data-confirm]');
    await page.waitForSelector('.flash-ok >> text=/Schedule nightly ran now: task sched:nightly:now:\\d+\\./');
    expect((await reports.getSchedule('nightly'))?.runs).toBe(1);
    expect((await reports.list('waiting')).map((task) => task.payload)).toEqual([{ kind: 'daily' }]);

    await page.click('tr[data-schedule="reports/nightly"] button[data-action="remove-schedule"]');
    await page.click('dialog.confirm button[data-confirm]');
    await page.waitForSelector('tr[data-schedule="reports/nightly"]', { state: 'detached' });
    expect(await reports.schedules()).toEqual([]);
    await expectCleanPage(watched);
  });
});
