/**
 * The dashboard in headless Chromium against a real gateway and Redis: the overview's
 * counts match the API, counts change live without a reload, a failed task is retried
 * from the UI and completes, a running task's progress and log show live (as text), search
 * finds tasks by payload text and id, the queue actions
 * confirm and show their result, the workers page shows live workers, and the demo's two
 * links work from the dashboard.
 */
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { useBrowser } from './support/browser.js';
import { expectCleanPage, openPage, startDashboard, waitForText } from './support/dashboard.js';
import { deferred, next, useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const chromium = useBrowser();

/** Tasks that fail until `heal()` is called. */
function flakyHandler() {
  let healthy = false;
  return {
    heal: () => void (healthy = true),
    handler: async (task: { payload: unknown }) => {
      if (!healthy) throw new Error(`SMTP 421: try later (${JSON.stringify(task.payload)})`);
      return 'sent';
    },
  };
}

/** A log line as the task page shows it: its local time (as format.ts writes it), attempt and text. */
async function logLine(queue: { logs(id: string): Promise<{ lines: { at: number; attempt: number; message: string }[] }> }, id: string, index: number): Promise<string> {
  const line = (await queue.logs(id)).lines[index]!;
  const d = new Date(line.at);
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return `${time}  #${line.attempt}  ${line.message}`;
}

describe('dashboard in a browser', () => {
  it('shows the same counts as the API on the overview, with the totals', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const alpha = s.queue('alpha');
    const beta = s.queue('beta');
    const gamma = s.queue('gamma');
    await alpha.enqueueMany([{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
    await alpha.enqueueMany([{ payload: 4, delayMs: 3_600_000 }, { payload: 5, delayMs: 3_600_000 }]);
    const cancelled = await alpha.enqueue(6);
    await alpha.cancel(cancelled.id);
    const hold = deferred();
    const worker = s.worker('beta', async (task) => {
      if (task.payload === 'hold') await hold.promise;
      if (task.payload === 'fail') throw new Error('boom');
      return 'ok';
    });
    const ends = (await beta.enqueueMany([{ payload: 'ok' }, { payload: 'ok' }, { payload: 'fail', attempts: 1 }])).map((t) => t.result().catch(() => 'failed'));
    await Promise.all(ends);
    const activated = next(worker, 'active');
    await beta.enqueue('hold');
    await activated;
    await gamma.pause();
    await gamma.enqueue('later');

    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/`);
    await page.waitForSelector('tr[data-queue="gamma"]');
    const api = (await (await fetch(`${gw.url}/v1/queues`)).json()) as { queues: Record<string, number | string | boolean>[] };
    expect(api.queues.map((q) => q.name)).toEqual(['alpha', 'beta', 'gamma']);
    const columns = ['waiting', 'active', 'delayed', 'completed', 'failed', 'cancelled'] as const;
    for (const queue of api.queues) {
      for (const column of columns) {
        expect([queue.name, column, await page.textContent(`tr[data-queue="${queue.name}"] td[data-col="${column}"]`)]).toEqual([queue.name, column, String(queue[column])]);
      }
      expect(await page.textContent(`tr[data-queue="${queue.name}"] [data-state]`)).toBe(queue.paused ? 'paused' : 'running');
    }
    for (const column of columns) {
      const sum = api.queues.reduce((total, queue) => total + (queue[column] as number), 0);
      expect(await page.textContent(`tr[data-queue-totals] [data-col="${column}"]`)).toBe(String(sum));
      if (column !== 'cancelled') expect(await page.textContent(`[data-totals] [data-card="${column}"] .card-value`)).toBe(String(sum));
    }
    // The last hour comes from the per-minute history in Redis.
    const hour = (await beta.throughput({ minutes: 60 })).reduce((sum, p) => ({ completed: sum.completed + p.completed, failed: sum.failed + p.failed }), { completed: 0, failed: 0 });
    expect(hour).toEqual({ completed: 2, failed: 1 });
    expect(await page.textContent('tr[data-queue="beta"] td[data-col="hour-completed"]')).toBe('2');
    expect(await page.textContent('tr[data-queue="beta"] td[data-col="hour-failed"]')).toBe('1');
    expect(await page.textContent('tr[data-queue="beta"] td[data-col="failure-rate"]')).toBe('33 %');
    expect(await page.getAttribute('svg.chart', 'aria-label')).toBe('Tasks finished per minute over the last hour: 2 completed, 1 failed');
    hold.resolve();
    await expectCleanPage(watched);
  });

  it('updates counts live, without reloading the page', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const queue = s.queue('live');
    await queue.enqueue('first');
    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    let loads = 0;
    page.on('framenavigated', (frame) => void (frame === page.mainFrame() && loads++));
    await page.goto(`${gw.url}/`);
    await waitForText(watched, 'tr[data-queue="live"] td[data-col="waiting"]', '1');
    await page.evaluate('window.__samePage = true');

    await queue.enqueueMany([{ payload: 2 }, { payload: 3 }, { payload: 4 }]);
    await waitForText(watched, 'tr[data-queue="live"] td[data-col="waiting"]', '4');
    await waitForText(watched, '[data-totals] [data-card="waiting"] .card-value', '4');
    // A queue that appears meanwhile shows up too.
    await s.queue('newcomer').enqueue('hello');
    await waitForText(watched, 'tr[data-queue="newcomer"] td[data-col="waiting"]', '1');
    expect(await page.evaluate('window.__samePage')).toBe(true);
    expect(loads).toBe(1);
    expect(await page.getAttribute('.live', 'data-live')).toBe('live');
    await expectCleanPage(watched);
  });

  it('retries a failed task from the UI; it completes and the page shows it', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const queue = s.queue('mail');
    const flaky = flakyHandler();
    s.worker('mail', flaky.handler);
    const task = await queue.enqueue({ to: 'ada@example.com' }, { attempts: 1 });
    await expect(task.result()).rejects.toThrow(/SMTP 421/);

    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/queues/mail?state=failed`);
    await page.click(`tr[data-task="${task.id}"] td.id a`);
    await page.waitForSelector('[data-task-detail] [data-field="error"]');
    expect(page.url()).toBe(`${gw.url}/queues/mail/tasks/${task.id}`);
    expect(await page.textContent('.title-badge [data-state]')).toBe('failed');
    expect(await page.textContent('[data-field="error"] [data-part="message"]')).toBe('SMTP 421: try later ({"to":"ada@example.com"})');
    expect(await page.textContent('[data-field="payload"]')).toBe(JSON.stringify({ to: 'ada@example.com' }, null, 2));
    expect(await page.isHidden('button[data-action="cancel"]')).toBe(true);

    flaky.heal();
    await page.click('button[data-action="retry"]');
    await page.waitForSelector('dialog.confirm');
    expect(await page.textContent('dialog.confirm h2')).toBe(`Retry task ${task.id}?`);
    await page.click('dialog.confirm button[data-confirm]');
    await page.waitForSelector('.flash-ok');
    expect(await page.textContent('.flash-ok')).toMatch(new RegExp(`^Task ${task.id}: retried, now (waiting|active|completed)\\.`));
    await waitForText(watched, '.title-badge [data-state]', 'completed');
    expect(await page.textContent('[data-field="result"]')).toBe('"sent"');
    expect((await queue.getTask(task.id))?.state).toBe('completed');
    await expectCleanPage(watched);
  });

  it("shows a running task's progress live as a bar, its JSON progress, and its log as text", async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const queue = s.queue('render');
    const task = await queue.enqueue({ pages: 4 });
    const step = [deferred(), deferred()];
    s.worker('render', async (_task, context) => {
      context.log('<img src=x onerror="document.title=1">page 1');
      context.progress(25);
      await step[0]!.promise;
      context.log('page 2');
      context.progress(50);
      await step[1]!.promise;
      context.progress({ stage: 'upload', file: '<b>out.pdf</b>' });
      return 'rendered';
    });

    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/queues/render/tasks/${task.id}`);
    await page.waitForSelector('progress[value="25"]', { timeout: 15_000 });
    await waitForText(watched, '[data-field="logs"]', `${await logLine(queue, task.id, 0)}\n`);
    // The line is text: no element was made from it.
    expect(await page.$$('[data-field="logs"] img')).toHaveLength(0);
    step[0]!.resolve();
    await page.waitForSelector('progress[value="50"]', { timeout: 15_000 });
    await page.waitForFunction(() => (globalThis as any).document.querySelector('[data-field="logs"]')?.textContent?.includes('page 2'), null, { timeout: 15_000 });
    step[1]!.resolve();
    await waitForText(watched, '.title-badge [data-state]', 'completed');
    expect(await page.textContent('pre[data-field="progress"]')).toBe(JSON.stringify({ stage: 'upload', file: '<b>out.pdf</b>' }, null, 2));
    expect(await page.$$('[data-field="logs"] b, [data-field="progress"] b')).toHaveLength(0);
    expect(await page.title()).not.toBe('1');
    await expectCleanPage(watched);
  });

  it('says so in red when a retried task fails again, and heads every column of the failed list', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const queue = s.queue('doomed');
    s.worker('doomed', async () => {
      throw new Error('always broken');
    });
    const task = await queue.enqueue('x', { attempts: 1 });
    await expect(task.result()).rejects.toThrow(/always broken/);

    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/queues/doomed?state=failed`);
    await page.waitForSelector(`tr[data-task="${task.id}"]`);
    const headers = await page.$$eval('table.tasks thead th', (cells) => cells.map((cell) => cell.textContent?.trim() ?? ''));
    expect(headers.filter((text) => text === '')).toEqual([]);

    await page.click(`tr[data-task="${task.id}"] td.id a`);
    await page.waitForSelector('button[data-action="retry"]:not([hidden])');
    await page.click('button[data-action="retry"]');
    await page.click('dialog.confirm button[data-confirm]');
    await page.waitForSelector('.flash-error');
    expect(await page.textContent('.flash-error')).toMatch(new RegExp(`^Task ${task.id} was retried and failed again(: always broken\\.|: see its latest error below\\.)`));
    await waitForText(watched, '.title-badge [data-state]', 'failed');
    expect(await page.$$eval('.flash-ok', (notes) => notes.map((note) => note.textContent))).not.toContainEqual(expect.stringMatching(/now failed/));
    await expectCleanPage(watched);
  });

  it('says a queue nothing ever used is unknown, with no actions to take on it', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    await s.queue('real').enqueue(1);
    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/queues/nope`);
    await page.waitForSelector('.title-badge [data-state="unknown"]');
    expect(await page.textContent('.problem .flash-error')).toMatch(/^No queue "nope" is known here: nothing was ever enqueued to it/);
    expect(await page.isHidden('button[data-action="pause"]')).toBe(true);
    expect(await page.isHidden('button[data-action="retry-failed"]')).toBe(true);
    await page.goto(`${gw.url}/queues/real`);
    await page.waitForSelector('.title-badge [data-state="running"]');
    expect(await page.isVisible('button[data-action="pause"]')).toBe(true);
    await expectCleanPage(watched);
  });

  it('finds tasks by payload text and by id', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const queue = s.queue('orders');
    const tasks = await queue.enqueueMany(Array.from({ length: 300 }, (_, i) => ({ payload: { order: i, email: `customer-${i}@example.org` } })));
    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/queues/orders`);
    await page.waitForSelector('[data-task-list] tr[data-task]');

    await page.fill('input[name=search]', 'Customer-137@');
    await page.press('input[name=search]', 'Enter');
    await page.waitForSelector('[data-search-results]');
    expect(page.url()).toBe(`${gw.url}/queues/orders?search=Customer-137%40`);
    expect(await page.textContent('[data-search-text]')).toBe('Customer-137@');
    expect(await page.$$eval('[data-search-results] tr[data-task]', (rows) => rows.map((row) => row.getAttribute('data-task')))).toEqual([tasks[137]!.id]);
    expect(await page.textContent('[data-search-results] [data-field="payload-preview"]')).toBe('{"order":137,"email":"customer-137@example.org"}');
    expect(await page.textContent('[data-search-results] .hint')).toBe('read all 300 retained tasks');

    await page.fill('input[name=search]', tasks[42]!.id);
    await page.press('input[name=search]', 'Enter');
    await page.waitForSelector(`[data-search-results] tr[data-task="${tasks[42]!.id}"]`);
    expect(await page.textContent('[data-search-results] h3')).toBe('Task with this id');

    await page.fill('input[name=search]', 'nobody@nowhere');
    await page.press('input[name=search]', 'Enter');
    await waitForText(watched, '[data-search-text]', 'nobody@nowhere');
    expect(await page.textContent('[data-search-results] .empty')).toBe('No payload contains this text.');
    await page.click('text=clear search');
    await page.waitForSelector('a[data-tab="waiting"]');
    await expectCleanPage(watched);
  });

  it('pauses and resumes a queue, retries all failed, cancels and removes tasks, confirming each', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const queue = s.queue('jobs');
    const flaky = flakyHandler();
    const worker = s.worker('jobs', flaky.handler);
    const failing = await queue.enqueueMany([1, 2, 3].map((n) => ({ payload: n, attempts: 1 })));
    const outcomes = await Promise.all(failing.map((t) => t.result({ timeoutMs: 10_000 }).catch((error: Error) => error.name)));
    expect(outcomes).toEqual(['TaskFailedError', 'TaskFailedError', 'TaskFailedError']);
    await worker.close({ timeoutMs: 5_000 });

    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/queues/jobs`);
    await waitForText(watched, '[data-card="failed"] .card-value', '3');

    // A cancelled confirmation does nothing.
    await page.click('button[data-action="pause"]');
    await page.click('dialog.confirm button[data-cancel]');
    expect((await queue.counts()).paused).toBe(false);
    await page.click('button[data-action="pause"]');
    await page.click('dialog.confirm button[data-confirm]');
    await waitForText(watched, '.flash-ok', 'Queue jobs is paused.×');
    await waitForText(watched, '.title-badge [data-state]', 'paused');
    expect((await queue.counts()).paused).toBe(true);
    await page.click('button[data-action="resume"]');
    await page.click('dialog.confirm button[data-confirm]');
    await waitForText(watched, '.title-badge [data-state]', 'running');
    expect((await queue.counts()).paused).toBe(false);

    await page.click('button[data-action="retry-failed"]');
    expect(await page.textContent('dialog.confirm p')).toBe('3 failed tasks go back in line with a fresh set of attempts.');
    await page.click('dialog.confirm button[data-confirm]');
    await page.waitForSelector('.flash-ok >> text=3 tasks of jobs put back in line.');
    await waitForText(watched, '[data-card="waiting"] .card-value', '3');
    expect(await queue.counts()).toMatchObject({ waiting: 3, failed: 0 });

    const [first, second] = failing;
    await page.goto(`${gw.url}/queues/jobs/tasks/${first!.id}`);
    await page.click('button[data-action="cancel"]');
    await page.click('dialog.confirm button[data-confirm]');
    await waitForText(watched, '.title-badge [data-state]', 'cancelled');
    expect((await queue.getTask(first!.id))?.state).toBe('cancelled');

    await page.goto(`${gw.url}/queues/jobs/tasks/${second!.id}`);
    await page.click('button[data-action="remove"]');
    expect(await page.textContent('dialog.confirm h2')).toBe(`Remove task ${second!.id}?`);
    await page.click('dialog.confirm button[data-confirm]');
    await page.waitForURL(`${gw.url}/queues/jobs`);
    expect(await page.textContent('.flash-ok')).toBe(`Task ${second!.id} removed from jobs.×`);
    expect(await queue.getTask(second!.id)).toBeNull();

    // An action the task's state no longer allows says why.
    await page.goto(`${gw.url}/queues/jobs/tasks/${first!.id}`);
    await waitForText(watched, '.title-badge [data-state]', 'cancelled');
    await page.click('button[data-action="retry"]');
    // Behind the page's back, while its dialog asks: now waiting (the page may show it live,
    // but the confirmed action still goes out, and the gateway says why it cannot be done).
    await queue.retry(first!.id);
    await page.click('dialog.confirm button[data-confirm]');
    await page.waitForSelector('.flash-error');
    expect(await page.textContent('.flash-error')).toBe(
      `Retry failed: cannot retry task "${first!.id}": it is waiting, and only failed or cancelled tasks can be (INVALID_STATE)×`,
    );
    await expectCleanPage(watched);
  });

  it('shows live workers with their host, pid, concurrency and current tasks', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const queue = s.queue('busy');
    const hold = deferred();
    const worker = s.worker('busy', async () => hold.promise, { concurrency: 3, leaseMs: 1_500 });
    const activated = next(worker, 'active');
    const task = await queue.enqueue('work');
    await activated;

    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/workers`);
    // The worker reports its running tasks with each heartbeat (every leaseMs / 3).
    await page.waitForSelector(`tr[data-worker] td[data-col="tasks"] a[href="/queues/busy/tasks/${task.id}"]`, { timeout: 15_000 });
    expect(await page.textContent('tr[data-worker] td[data-col="host"]')).toBe(hostname());
    expect(await page.textContent('tr[data-worker] td[data-col="pid"]')).toBe(String(process.pid));
    expect(await page.textContent('tr[data-worker] td[data-col="running"]')).toBe('1 / 3');
    expect(await page.textContent('tr[data-worker] td[data-col="heartbeat"]')).toMatch(/ ago$/);
    hold.resolve();
    await worker.close();
    await page.waitForSelector('[data-view="workers"] .empty'); // gone once it closed
    await expectCleanPage(watched);
  });

  it('serves the demo page with the two classic links, which lead back to it', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis, { demo: true });
    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/`);
    await page.click('a[data-nav="/demo"]');
    await waitForText(watched, '[data-card="enqueued"] .card-value', '0');
    expect(await page.textContent('a[data-demo="prodcons"]')).toBe('producer-consumer: enqueue a random number on queue "demo"');
    expect(await page.textContent('a[data-demo="pubsub"]')).toBe('publish-subscribe: publish a random number on channel "task:pubsub:channel"');

    await page.click('a[data-demo="prodcons"]');
    await page.waitForURL(`${gw.url}/demo`);
    await waitForText(watched, '[data-card="enqueued"] .card-value', '1');
    await page.click('a[data-demo="pubsub"]');
    await page.waitForURL(`${gw.url}/demo`);
    await page.waitForSelector('[data-card="enqueued"]');
    expect((await s.queue('demo').counts()).waiting).toBe(1);
    await expectCleanPage(watched);
  });
});
