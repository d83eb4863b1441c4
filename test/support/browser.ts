/**
 * Headless Debian Chromium for the dashboard's tests and screenshots, driven by
 * playwright-core (which never downloads a browser). Each launch gets a fresh temporary
 * profile. `watchPage` records what must never happen on a dashboard page: uncaught
 * errors, console errors, dialogs (alert/confirm/prompt), CSP violations, and the
 * `window.__xss` flag the XSS payloads set if any of them runs.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's (apt-get update && apt-get install -y chromium), as .ci/run does, or set CHROMIUM_PATH`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** One Chromium for the current test file, closed after its last test. */
export function useBrowser(): { readonly browser: Browser } {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });
  return {
    get browser() {
      if (!browser) throw new Error('the browser is not started yet (use it inside a test)');
      return browser;
    },
  };
}

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Everything that went wrong so far, as text. */
  problems: string[];
  /** Whether any XSS payload ran (`window.__xss`), and the CSP violations the page saw. */
  xss(): Promise<{ ran: boolean; violations: string[] }>;
  close(): Promise<void>;
}

export async function watchPage(browser: Browser, options: { bypassCSP?: boolean; baseURL?: string } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  // Runs in each page before its own scripts (the test's code is not subject to the page's CSP).
  await context.addInitScript({
    content: `window.__xss = false; window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));`,
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource|EventSource/.test(message.text())) problems.push(`console error: ${message.text()}`);
  });
  page.on('dialog', (dialog) => {
    problems.push(`dialog (${dialog.type()}): ${dialog.message()}`);
    void dialog.dismiss();
  });
  return {
    context,
    page,
    problems,
    async xss() {
      const state = (await page.evaluate('({ ran: window.__xss === true, violations: window.__violations ?? [] })')) as { ran: boolean; violations: string[] };
      return state;
    },
    close: () => context.close(),
  };
}
