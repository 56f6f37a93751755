/**
 * The dashboard in a real browser (Debian's Chromium) against a real two-node cluster:
 * sign in, see both nodes, find a connected MQTT.js client and kick it (it gets DISCONNECT
 * 0x98), and a viewer who sees no way to kick (and whose token the API refuses). No console
 * errors; a screenshot of each step under tests/output/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IDisconnectPacket } from 'mqtt';
import { connect, endAll } from './harness.js';
import { openBrowser, type Browser } from './browser.js';
import { VIEWER_PASSWORD, keyDir, signInPage, startWithViewer, tearDown } from './dashboard-page.js';
import { ADMIN_PASSWORD, type DashNode } from './dashboard-nodes.js';

const { dir, keyFile } = keyDir('dashboard-ui');
let nodes: DashNode[] = [];
let browser: Browser | undefined;

before(async () => {
  nodes = await startWithViewer('dashui', keyFile, 'vic');
});

after(() => tearDown(browser, nodes, dir));

test('sign in and see both nodes of the cluster, with live charts', { timeout: 90_000 }, async () => {
  browser = await openBrowser();
  const { page } = browser;
  const [a, b] = nodes as [DashNode, DashNode];
  // the page is served by B; it shows the whole cluster
  await page.goto(b.base + '/');
  await browser.shot('dashboard-sign-in');
  await signInPage(browser, b, 'admin', ADMIN_PASSWORD);
  const table = page.getByRole('region', { name: 'Nodes' });
  for (const n of [a, b]) await table.getByRole('row').filter({ hasText: n.name }).getByText('running').waitFor({ timeout: 15_000 });
  // the charts draw once samples arrive (every second here)
  await page.locator('.chart canvas').first().waitFor({ timeout: 15_000 });
  await page.getByText('Messages per second').waitFor();
  // one node's series instead of the cluster's
  const [perNode] = await Promise.all([
    page.waitForResponse((r) => r.url().includes(`/api/v5/monitor/nodes/${encodeURIComponent(a.name)}`) && r.status() === 200),
    page.getByLabel('Nodes shown in the charts').selectOption(a.name),
  ]);
  assert.ok(((await perNode.json()) as unknown[]).length > 0, 'the node has samples');
  await page.getByLabel('Nodes shown in the charts').selectOption('');
  await browser.shot('dashboard-overview');
  assert.deepEqual(browser.errors, []);
});

test('find a connected MQTT.js client and kick it: the client gets DISCONNECT 0x98', { timeout: 90_000 }, async () => {
  assert.ok(browser, 'the first test signed in');
  const { page } = browser;
  const [a, b] = nodes as [DashNode, DashNode];
  // the client is on A, the page on B
  const victim = await connect(a.url, { clientId: 'kick-me-please', username: 'dev-42', protocolVersion: 5 });
  const bystander = await connect(b.url, { clientId: 'bystander', protocolVersion: 4 });
  try {
    const disconnected = new Promise<IDisconnectPacket>((resolve) => victim.once('disconnect', resolve));
    await page.getByRole('link', { name: 'Clients' }).click();
    await page.getByLabel('Client ID contains').fill('kick-me');
    await page.getByLabel('Protocol').selectOption('5');
    await page.getByRole('button', { name: 'Search' }).click();
    const rows = page.getByRole('region', { name: 'Clients' }).getByRole('row');
    await rows.filter({ hasText: 'kick-me-please' }).waitFor({ timeout: 10_000 });
    await page.waitForFunction(() => !document.body.innerText.includes('bystander'));
    assert.equal(await rows.filter({ hasText: 'bystander' }).count(), 0, 'the search leaves the other client out');
    await browser.shot('dashboard-clients');

    await page.getByRole('link', { name: 'kick-me-please' }).click();
    await page.getByRole('heading', { name: 'Client kick-me-please' }).waitFor();
    await page.getByText(a.name).first().waitFor();
    await page.getByText('dev-42').waitFor();
    await browser.shot('dashboard-client-detail');
    await page.getByRole('button', { name: 'Kick', exact: true }).click();
    await page.getByRole('button', { name: 'Kick this client' }).click();
    const packet = await disconnected;
    assert.equal(packet.reasonCode, 0x98);
    // back on the list, which no longer has it
    await page.getByRole('heading', { name: 'Clients' }).waitFor();
    assert.deepEqual(browser.errors, []);
  } finally {
    await endAll(victim, bystander);
  }
});

test('a viewer sees clients but cannot kick; the API refuses its token', { timeout: 90_000 }, async () => {
  const viewer = await openBrowser();
  const [a] = nodes as [DashNode, DashNode];
  const client = await connect(a.url, { clientId: 'watched', protocolVersion: 5 });
  try {
    await signInPage(viewer, a, 'vic', VIEWER_PASSWORD);
    await viewer.page.getByText('vic').first().waitFor();
    await viewer.page.goto(`${a.base}/#/clients/watched`);
    await viewer.page.getByRole('heading', { name: 'Client watched' }).waitFor();
    await viewer.page.getByText('Connection and session').waitFor();
    assert.equal(await viewer.page.getByRole('button', { name: 'Kick' }).count(), 0, 'no Kick button for a viewer');
    assert.equal(await viewer.page.getByRole('button', { name: 'Subscribe' }).count(), 0);
    await viewer.shot('dashboard-viewer-client');
    // the same request the administrator's page makes, with the viewer's token, from the page
    const status = await viewer.page.evaluate(async () => {
      const s = JSON.parse(sessionStorage.getItem('vireo.session') ?? '{}') as { token?: string };
      const r = await fetch('/api/v5/clients/watched', { method: 'DELETE', headers: { authorization: `Bearer ${s.token}` } });
      return r.status;
    });
    assert.equal(status, 403);
    assert.ok(client.connected, 'still connected');
    // a 403 is logged by the browser as a failed resource load: that one is expected
    assert.deepEqual(
      viewer.errors.filter((e) => !e.includes('403')),
      [],
    );
  } finally {
    await endAll(client);
    await viewer.close();
  }
});

test('readable at phone width: the menu folds away and tables stack', { timeout: 60_000 }, async () => {
  const phone = await openBrowser({ width: 390, height: 844 });
  const [a] = nodes as [DashNode, DashNode];
  try {
    await signInPage(phone, a, 'admin', ADMIN_PASSWORD);
    await phone.page.getByRole('region', { name: 'Nodes' }).getByText('running').first().waitFor({ timeout: 15_000 });
    assert.equal(await phone.page.locator('nav#nav').isVisible(), false, 'the navigation is folded');
    await phone.page.getByRole('button', { name: 'Menu' }).click();
    await phone.page.getByRole('link', { name: 'Clients' }).click();
    await phone.page.getByRole('heading', { name: 'Clients' }).waitFor();
    // nothing wider than the screen
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the phone`);
    await phone.shot('dashboard-phone-clients');
    assert.deepEqual(phone.errors, []);
  } finally {
    await phone.close();
  }
});

test('a node that does not answer shows as such; the page keeps working and recovers', { timeout: 120_000 }, async () => {
  assert.ok(browser, 'the first test signed in');
  const { page } = browser;
  const [a, b] = nodes as [DashNode, DashNode];
  await page.goto(`${b.base}/#/overview`);
  const table = page.getByRole('region', { name: 'Nodes' });
  const rowA = table.getByRole('row').filter({ hasText: a.name });
  await rowA.getByText('running').waitFor({ timeout: 15_000 });
  const before = browser.errors.length;
  a.proc.child.kill('SIGSTOP');
  try {
    // the node's row says it, and the page names the node its figures leave out
    await rowA.getByText(/not answering|down|stopped/).waitFor({ timeout: 40_000 });
    await table.getByRole('row').filter({ hasText: b.name }).getByText('running').waitFor();
    await browser.shot('dashboard-node-down');
    // and other pages still answer, for the node that does
    await page.getByRole('link', { name: 'Clients' }).click();
    await page.getByRole('heading', { name: 'Clients' }).waitFor();
  } finally {
    a.proc.child.kill('SIGCONT');
  }
  await page.getByRole('link', { name: 'Overview' }).click();
  await rowA.getByText('running').waitFor({ timeout: 40_000 });
  // the only failures allowed: requests about the frozen node itself (503 from its lag, when asked just as it froze)
  const unexpected = browser.errors.slice(before).filter((e) => !(e.includes(`/monitor_current/nodes/${encodeURIComponent(a.name)}`) || e.includes('status of 503')));
  assert.deepEqual(unexpected, []);
});
