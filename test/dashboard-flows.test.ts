/**
 * The dashboard's task page in a flow (headless Chromium, real gateway and Redis): a
 * parent's page draws the tree below it with each node's state and a link to its page, the
 * states change live as children finish, and a child's page links its parent.
 */
import { describe, expect, it } from 'vitest';
import { Flows } from '../src/index.js';
import { useBrowser } from './support/browser.js';
import { expectCleanPage, openPage, startDashboard } from './support/dashboard.js';
import { deferred, useRedis, useScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const chromium = useBrowser();

describe('a flow on the task page', () => {
  it('draws the tree with live states and links each node', async () => {
    const s = scope();
    const gw = await startDashboard(s, redis);
    const flows = s.add(new Flows({ connection: redis.url, prefix: s.prefix }));
    const flow = await flows.add({ queue: 'reports', children: [{ queue: 'fetch', payload: 1 }, { queue: 'fetch', payload: 2, children: [{ queue: 'parts', payload: 3 }] }] });
    const [first, second] = flow.tree.children;
    const part = second!.children[0]!;

    const watched = await openPage(s, chromium.browser);
    const { page } = watched;
    await page.goto(`${gw.url}/queues/reports/tasks/${flow.id}`);
    const node = (queue: string, id: string) => `[data-field="flow"] li[data-flow-node="${queue}/${id}"]`;
    const stateOf = (queue: string, id: string) => `${node(queue, id)} > [data-state]`;
    await page.waitForSelector(stateOf('parts', part.id), { timeout: 15_000 });
    expect(await page.getAttribute(stateOf('reports', flow.id), 'data-state')).toBe('dependencies');
    expect(await page.getAttribute(stateOf('fetch', first!.id), 'data-state')).toBe('waiting');
    expect(await page.getAttribute(stateOf('fetch', second!.id), 'data-state')).toBe('dependencies');
    expect(await page.getAttribute(`${node('fetch', first!.id)} > a`, 'href')).toBe(`/queues/fetch/tasks/${first!.id}`);
    // The parent can be cancelled from its page (it waits for its children).
    expect(await page.isVisible('button[data-action="cancel"]')).toBe(true);

    // Children finish: their states change on the page without a reload.
    const go = deferred();
    s.worker('parts', async () => {
      await go.promise;
      return 30;
    });
    s.worker('fetch', async () => 'fetched');
    await page.waitForSelector(`${stateOf('fetch', first!.id)}[data-state="completed"]`, { timeout: 15_000 });
    go.resolve();
    await page.waitForSelector(`${stateOf('parts', part.id)}[data-state="completed"]`, { timeout: 15_000 });
    await page.waitForSelector(`${stateOf('fetch', second!.id)}[data-state="completed"]`, { timeout: 15_000 });

    // A child's page links its parent.
    await page.click(`${node('fetch', second!.id)} > a`);
    await page.waitForSelector('[data-field="flow-parent"] a', { timeout: 15_000 });
    expect(await page.getAttribute('[data-field="flow-parent"] a', 'href')).toBe(`/queues/reports/tasks/${flow.id}`);
    await expectCleanPage(watched);
  }, 60_000);
});
