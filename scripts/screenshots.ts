/**
 * `npm run screenshots`: PNGs of every dashboard page, for review (written to screenshots/,
 * which git ignores). Builds the client bundle, starts a private redis-server, a gateway
 * with a token and the demo, fills a few queues with tasks in every state and running
 * workers, then logs in with headless Chromium and photographs each page.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Broadcast, Queue, Topic, Worker } from '../src/index.js';
import { startGateway } from '../src/gateway/app.js';
import { launchChromium } from '../test/support/browser.js';
import { RedisServer } from '../test/support/redis-server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}screenshots`;
const TOKEN = 'screenshots-token';
const prefix = 'shots';

function say(message: string): void {
  process.stdout.write(`screenshots: ${message}\n`);
}

async function main(): Promise<void> {
  say('building the client bundle');
  execFileSync(process.execPath, ['build/dashboard.mjs'], { cwd: root, stdio: 'inherit' });
  mkdirSync(out, { recursive: true });
  const redis = await RedisServer.start();
  const cleanups: (() => Promise<unknown>)[] = [() => redis.stop()];
  try {
    say(`redis-server on ${redis.url}`);
    const connection = redis.url;
    const gateway = await startGateway({ connection, prefix, port: 0, token: TOKEN, demo: true });
    cleanups.push(() => gateway.close());

    say('filling queues');
    const emails = new Queue<{ to: string; template: string; fail?: boolean }>('emails', { connection, prefix });
    const thumbnails = new Queue<{ image: string; width: number }>('thumbnails', { connection, prefix });
    const reports = new Queue<{ month: string }>('reports', { connection, prefix });
    const demo = new Queue<number>('demo', { connection, prefix });
    cleanups.push(() => Promise.all([emails.close(), thumbnails.close(), reports.close(), demo.close()]));

    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const worker = new Worker<{ to: string; template: string; fail?: boolean }, string>(
      'emails',
      async (task) => {
        if (task.payload.template === 'digest') await held; // stays active for the pictures
        if (task.payload.fail) throw new Error(`SMTP 550: mailbox ${task.payload.to} unavailable`);
        return `sent to ${task.payload.to}`;
      },
      { connection, prefix, concurrency: 4 },
    );
    cleanups.unshift(async () => {
      release();
      await worker.close({ timeoutMs: 5_000 });
    });

    const done: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      const fail = i % 9 === 4;
      const task = await emails.enqueue({ to: `user${i}@example.com`, template: 'welcome', fail }, { attempts: fail ? 3 : 1, backoff: { type: 'fixed', delayMs: 20 } });
      done.push(task.result().catch(() => undefined));
    }
    await Promise.all(done);
    for (let i = 0; i < 2; i++) await emails.enqueue({ to: `team${i}@example.com`, template: 'digest' });
    for (let i = 0; i < 6; i++) await emails.enqueue({ to: `later${i}@example.com`, template: 'reminder' }, { delayMs: 3_600_000 });
    for (let i = 0; i < 12; i++) await thumbnails.enqueue({ image: `photos/cat-${i}.png`, width: 320 }, { priority: i % 3 });
    await reports.pause();
    for (const month of ['2026-01', '2026-02', '2026-03']) await reports.enqueue({ month });
    await demo.enqueue(7);

    say('filling topics and channels');
    const orders = new Topic<{ order: number; total: number }>('orders', { connection, prefix });
    const audit = new Topic<{ event: string }>('audit', { connection, prefix });
    const bus = new Broadcast({ connection, prefix });
    cleanups.push(() => Promise.all([orders.close(), audit.close(), bus.close()]));
    await orders.publishMany(Array.from({ length: 120 }, (_, i) => ({ order: i, total: 10 + (i % 7) })));
    await orders.replay('analytics', 'earliest'); // a group nobody reads: lags by every message
    let releaseBilling = () => {};
    const billingHeld = new Promise<void>((resolve) => (releaseBilling = resolve));
    let billingStarted = 0;
    const twoHeld = new Promise<void>((resolve) => {
      const billing = orders.subscribe(
        'billing',
        async () => {
          if (++billingStarted > 110) {
            if (billingStarted === 112) resolve();
            await billingHeld; // the last ones stay pending for the picture
          }
        },
        { from: 'earliest', concurrency: 2 },
      );
      cleanups.unshift(async () => {
        releaseBilling();
        await billing.close({ timeoutMs: 5_000 });
      });
    });
    await twoHeld;
    await audit.publishMany([{ event: 'login' }, { event: 'export' }, { event: 'delete' }]);
    let failures = 0;
    const threeDead = new Promise<void>((resolve) => {
      const auditor = audit.subscribe(
        'archiver',
        (message) => {
          if (++failures === 3) setImmediate(resolve);
          throw new Error(`S3 PutObject denied for event "${message.event}"`);
        },
        { from: 'earliest', attempts: 1 },
      );
      cleanups.unshift(() => auditor.close({ timeoutMs: 5_000 }));
    });
    await threeDead;
    const otherBus = new Broadcast({ connection, prefix });
    const rawBus = new Broadcast<string>({ connection, prefix, raw: true });
    cleanups.push(() => Promise.all([otherBus.close(), rawBus.close()]));
    await bus.subscribe('cache.invalidate', () => {});
    await otherBus.subscribe('cache.invalidate', () => {});
    await otherBus.subscribe('config.changed', () => {});
    await rawBus.subscribe('task:pubsub:channel', () => {}); // as the classic demo's subscriber
    await rawBus.subscribe('chat.*', () => {}); // a pattern: counted apart

    const browser = await launchChromium();
    cleanups.unshift(() => browser.close());
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const shot = async (name: string) => {
      await page.screenshot({ path: `${out}/${name}.png`, fullPage: true });
      say(`wrote screenshots/${name}.png`);
    };
    const settle = (selector: string, timeout = 10_000) => page.waitForSelector(selector, { timeout });

    await page.goto(`${gateway.url}/`);
    await settle('input[name=token]');
    await shot('01-login');
    await page.fill('input[name=token]', TOKEN);
    await page.click('button[type=submit]');
    await settle('tr[data-queue="emails"]');
    await page.waitForSelector('.live[data-live="live"]');
    await shot('02-overview');

    await page.click('a[href="/queues/emails"]');
    await settle('[data-task-list] table, [data-task-list] .empty');
    await shot('03-queue-waiting');
    await page.click('a[data-tab="failed"]');
    await settle('[data-task-list] tr[data-task]');
    await shot('04-queue-failed');

    await page.click('[data-task-list] tr[data-task] td.id a');
    await settle('[data-field="payload"]');
    await shot('05-task-failed');
    await page.click('button[data-action="retry"]');
    await settle('dialog.confirm');
    await shot('06-confirm-retry');
    await page.click('dialog.confirm button[data-cancel]');

    await page.goto(`${gateway.url}/queues/emails?search=user13%40example`);
    await settle('[data-search-results]');
    await shot('07-search');

    await page.click('a[data-nav="/workers"]');
    await settle('tr[data-worker] td[data-col="running"]:has-text("2 /")', 20_000); // after the next heartbeat
    await shot('08-workers');

    await page.goto(`${gateway.url}/queues/reports`);
    await settle('[data-task-list] table');
    await shot('09-queue-paused');

    await page.click('a[data-nav="/broadcast"]');
    await settle('tr[data-group="billing"]');
    await settle('tr[data-dead-letter]');
    await page.fill('input[name=name]', 'cache.invalidate');
    await page.fill('textarea[name=message]', '{"key": "user:42"}');
    await page.click('button[data-action="publish"]');
    await page.click('dialog.confirm button[data-confirm]');
    await settle('[data-publish-result].publish-ok');
    await shot('10-channels-topics');

    await page.click('a[data-nav="/demo"]');
    await settle('[data-card="enqueued"]');
    await shot('11-demo');
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
