/**
 * Dashboard helpers for tests: a listening gateway (with the dashboard) on the test file's
 * Redis and the test's prefix, a watched browser page closed with the test's scope, and
 * the check that a page saw nothing go wrong.
 */
import { expect } from 'vitest';
import type { Browser } from 'playwright-core';
import { startGateway, type ListeningGateway } from '../../src/gateway/app.js';
import type { GatewayOptions } from '../../src/gateway/options.js';
import { watchPage, type WatchedPage } from './browser.js';
import type { RedisFixture, TestScope } from './fixtures.js';

export async function startDashboard(s: TestScope, redis: RedisFixture, options: GatewayOptions = {}): Promise<ListeningGateway> {
  return s.add(await startGateway({ connection: redis.url, prefix: s.prefix, port: 0, ...options }));
}

export async function openPage(s: TestScope, browser: Browser, options: { bypassCSP?: boolean } = {}): Promise<WatchedPage> {
  const watched = s.add(await watchPage(browser, options));
  // Page steps fail with their own message (which step, which selector) well inside the
  // test's timeout, rather than the test timing out with no clue.
  watched.page.setDefaultTimeout(15_000);
  return watched;
}

/** No uncaught error, console error, dialog, CSP violation or XSS flag on the page. */
export async function expectCleanPage(watched: WatchedPage): Promise<void> {
  expect(watched.problems).toEqual([]);
  expect(await watched.xss()).toEqual({ ran: false, violations: [] });
}

/** The text of the element `selector` matches, once it does (the page updates itself). */
export async function waitForText(watched: WatchedPage, selector: string, text: string, timeoutMs = 15_000): Promise<void> {
  await watched.page.waitForFunction(
    ([sel, want]) => (globalThis as any).document.querySelector(sel)?.textContent === want,
    [selector, text] as const,
    { timeout: timeoutMs },
  );
}
