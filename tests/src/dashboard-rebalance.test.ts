/**
 * The Cluster page's evacuation and rebalance panel in a real browser (Debian's Chromium)
 * against a real two-node cluster: an administrator starts a rebalance coordinated by the
 * node serving the page (ten clients on the other node: it becomes the donor and fails
 * availability_check), sees it with its donors, stops it (the donor takes clients again);
 * then evacuates a node from the page and stops that too. No console errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { connect, endAll, waitFor } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { openBrowser, type Browser } from './browser.js';
import { ADMIN_PASSWORD, startDashCluster, type DashNode } from './dashboard-nodes.js';
import { AVAILABILITY_CHECK } from './lb-proxy.js';

const dir = mkdtempSync(join(tmpdir(), 'vireo-dashboard-rebalance-'));
const keyFile = join(dir, 'keys');
writeFileSync(keyFile, 'ops:dash-key-secret\n');
let nodes: DashNode[] = [];
let browser: Browser | undefined;
const clients: MqttClient[] = [];

before(async () => {
  nodes = await startDashCluster(2, 'dashrb', keyFile);
});

after(async () => {
  await endAll(...clients);
  await browser?.close();
  for (const n of nodes) n.proc.kill('SIGKILL');
  killAllVireo();
  rmSync(dir, { recursive: true, force: true });
});

const available = async (n: DashNode) => (await fetch(n.base + AVAILABILITY_CHECK)).status;

test('the Cluster page starts and stops a rebalance and an evacuation, and shows them', { timeout: 120_000 }, async () => {
  const [a, b] = nodes as [DashNode, DashNode];
  for (let i = 0; i < 10; i++) clients.push(await connect(a.url, { clientId: `dashrb-${i}`, protocolVersion: 5 }));
  browser = await openBrowser();
  const { page } = browser;
  await page.goto(b.base + '/');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByLabel('Password').press('Enter');
  await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 15_000 });
  await page.getByRole('link', { name: 'Cluster' }).click();
  const panel = page;
  await panel.getByText('No rebalance running').waitFor({ timeout: 15_000 });

  // a rebalance coordinated by b (the page's node), with thresholds that apply to 10/0
  const form = page.getByRole('form', { name: 'Start a rebalance' });
  await form.getByLabel('Absolute threshold').fill('2');
  await form.getByLabel('Relative threshold').fill('1.05');
  await form.getByLabel('Wait for health check (s)').fill('60');
  await form.getByRole('button', { name: 'Start rebalance' }).click();
  await page.getByText(`Rebalance started, coordinated by ${b.name}`).waitFor({ timeout: 10_000 });
  const row = panel.getByRole('region', { name: 'Rebalances' }).getByRole('row').filter({ hasText: b.name });
  await row.getByText('wait_health_check').waitFor({ timeout: 10_000 });
  await row.getByText(a.name).waitFor();
  assert.equal(await available(a), 503, 'the donor gives load away');
  assert.equal(await available(b), 200);
  await browser.shot('dashboard-rebalance');
  await row.getByRole('button', { name: 'Stop' }).click();
  await page.getByRole('button', { name: `Stop the rebalance on ${b.name}` }).click();
  await panel.getByText('No rebalance running').waitFor({ timeout: 10_000 });
  await waitFor(() => clients.every((c) => c.connected), 'the clients stay connected');
  assert.equal(await available(a), 200, 'the donor takes clients again');

  // the evacuation of a, from the same page
  const evac = page.getByRole('form', { name: 'Evacuate a node' });
  await evac.getByLabel('Node to evacuate').selectOption(a.name);
  await evac.getByRole('button', { name: 'Evacuate' }).click();
  await page.getByText(`${a.name} is evacuating`).waitFor({ timeout: 10_000 });
  const erow = panel.getByRole('region', { name: 'Evacuations' }).getByRole('row').filter({ hasText: a.name });
  await erow.waitFor({ timeout: 10_000 });
  assert.equal(await available(a), 503);
  await browser.shot('dashboard-evacuation');
  await erow.getByRole('button', { name: 'Stop' }).click();
  await page.getByRole('button', { name: `Stop evacuating ${a.name}` }).click();
  await panel.getByText('No node evacuating').waitFor({ timeout: 10_000 });
  assert.equal(await available(a), 200);
  assert.deepEqual(browser.errors, []);
});
