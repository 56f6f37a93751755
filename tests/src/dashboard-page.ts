/**
 * What the dashboard's browser tests share: a directory with the API key file the nodes
 * bootstrap from, two nodes with a viewer made through the API, signing in on the page, and
 * closing it all.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAllVireo } from './vireo-process.js';
import type { Browser } from './browser.js';
import { API_KEY, call, startDashCluster, type DashNode } from './dashboard-nodes.js';

export const VIEWER_PASSWORD = 'V1ewer-only';

/** A fresh directory holding `keys` (`ops:dash-key-secret`, the key API_KEY sends). */
export function keyDir(prefix: string): { dir: string; keyFile: string } {
  const dir = mkdtempSync(join(tmpdir(), `vireo-${prefix}-`));
  const keyFile = join(dir, 'keys');
  writeFileSync(keyFile, 'ops:dash-key-secret\n');
  return { dir, keyFile };
}

/** Two clustered dashboard nodes and a user `viewer` (role viewer, VIEWER_PASSWORD). */
export async function startWithViewer(prefix: string, keyFile: string, viewer: string, perNode?: (i: number) => Record<string, string>): Promise<DashNode[]> {
  const nodes = await startDashCluster(2, prefix, keyFile, {}, perNode);
  const made = await call(nodes[0]!.base, 'POST', '/api/v5/users', API_KEY, { username: viewer, password: VIEWER_PASSWORD, role: 'viewer' });
  assert.equal(made.status, 200);
  return nodes;
}

/** Signs in on `node`'s page and waits for the signed-in layout. */
export async function signInPage(b: Browser, node: DashNode, username: string, password: string): Promise<void> {
  const { page } = b;
  await page.goto(node.base + '/');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByLabel('Password').press('Enter');
  await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 15_000 });
}

/** Closes the browser, kills the nodes and removes `dir`. */
export async function tearDown(browser: Browser | undefined, nodes: DashNode[], dir: string): Promise<void> {
  await browser?.close();
  for (const n of nodes) n.proc.kill('SIGKILL');
  killAllVireo();
  rmSync(dir, { recursive: true, force: true });
}
