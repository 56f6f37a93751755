/**
 * A real browser for the dashboard's tests: Debian's Chromium driven by playwright-core,
 * headless, with a fresh profile each time, nothing fetched from the network by the
 * browser itself. Console errors and uncaught page errors are collected (a test asserts
 * there are none); screenshots go under tests/output/ (not committed).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.VIREO_TEST_CHROMIUM ?? '/usr/bin/chromium';
export const OUTPUT = fileURLToPath(new URL('../output/', import.meta.url));

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** console errors and page errors seen so far */
  errors: string[];
  /** saves tests/output/<name>.png */
  shot(name: string, page?: Page): Promise<string>;
  close(): Promise<void>;
}

export async function openBrowser(viewport = { width: 1366, height: 860 }): Promise<Browser> {
  const profile = mkdtempSync(path.join(tmpdir(), 'vireo-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    acceptDownloads: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const errors: string[] = [];
  const watch = (p: Page) => {
    p.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    p.on('pageerror', (e) => errors.push(`page: ${e.message}`));
    // which request a "Failed to load resource" console error was about
    p.on('response', (r) => {
      if (r.status() >= 400) errors.push(`response: ${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
    });
  };
  context.on('page', watch);
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page);
  mkdirSync(OUTPUT, { recursive: true });
  return {
    context,
    page,
    errors,
    async shot(name, p = page) {
      const file = path.join(OUTPUT, `${name}.png`);
      await p.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
