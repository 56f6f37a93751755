/**
 * The Limits page in a real browser (Debian's Chromium) against a real two-node cluster: an
 * administrator turns flapping detection on with a lower max_count (a real client is banned
 * at the new count, on the other node too), sets a listener's messages_rate (a bad value
 * shows the API's 400 naming the key, a good one is in force on both nodes); a viewer sees
 * the values and has nothing to save with. No console errors but that 400.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openBrowser, type Browser } from './browser.js';
import { ADMIN_PASSWORD, API_KEY, call, type DashNode } from './dashboard-nodes.js';
import { keyDir, signInPage, startWithViewer, tearDown, VIEWER_PASSWORD } from './dashboard-page.js';
import { rawConnect } from './raw-client.js';

const { dir, keyFile } = keyDir('dashboard-limits');
let nodes: DashNode[] = [];
let browser: Browser | undefined;

before(async () => {
  nodes = await startWithViewer('dashlim', keyFile, 'watcher');
});

after(async () => {
  await tearDown(browser, nodes, dir);
});

async function attempt(mqttPort: number, clientId: string): Promise<number> {
  const { client, connack } = await rawConnect(mqttPort, { clientId, protocolVersion: 5 });
  if (connack.reasonCode === 0) client.send({ cmd: 'disconnect' });
  client.destroy();
  return connack.reasonCode ?? -1;
}

test('the Limits page shows and changes flapping detection and a listener rate on every node', { timeout: 120_000 }, async () => {
  const [a, b] = nodes as [DashNode, DashNode];
  browser = await openBrowser();
  const { page } = browser;
  await signInPage(browser, a, 'admin', ADMIN_PASSWORD);
  await page.getByRole('link', { name: 'Limits' }).click();

  const flapping = page.getByRole('form', { name: 'Flapping detection settings' });
  await flapping.getByLabel('max_count').waitFor({ timeout: 15_000 });
  assert.equal(await flapping.getByLabel('max_count').inputValue(), '15', "EMQX's default shown");
  assert.equal(await flapping.getByLabel('enable').isChecked(), false);
  await flapping.getByLabel('enable').check();
  await flapping.getByLabel('max_count').fill('2');
  await flapping.getByRole('button', { name: 'Save on every node' }).click();
  await page.getByText('Saved: enable, max_count in force on every node').waitFor({ timeout: 10_000 });
  const onB = await call<Record<string, unknown>>(b.base, 'GET', '/api/v5/configs/flapping_detect', API_KEY);
  assert.equal(onB.json.enable, true, 'in force on the other node');
  assert.equal(onB.json.max_count, 2);
  const codes: number[] = [];
  for (let i = 0; i < 3; i++) codes.push(await attempt(b.mqttPort, 'page-flapper'));
  assert.deepEqual(codes, [0, 0, 0x8a], 'a real client is banned at the count set on the page');

  const listener = page.getByRole('form', { name: 'Listener tcp:default settings' });
  assert.equal(await listener.getByLabel('messages_rate').inputValue(), 'infinity');
  await listener.getByLabel('messages_rate').fill('1000');
  await listener.getByRole('button', { name: 'Save on every node' }).click();
  await page.getByText(/listeners\.tcp\.default\.messages_rate: expected a rate/).waitFor({ timeout: 10_000 });
  await listener.getByLabel('messages_rate').fill('100/s');
  await listener.getByRole('button', { name: 'Save on every node' }).click();
  await page.getByText('Saved: messages_rate in force on every node').waitFor({ timeout: 10_000 });
  for (const n of [a, b]) {
    const r = await call<Record<string, unknown>>(n.base, 'GET', '/api/v5/listeners/tcp:default', API_KEY);
    assert.equal(r.json.messages_rate, '100/s', `in force on ${n.name}`);
  }
  await browser.shot('dashboard-limits');
  assert.deepEqual(
    browser.errors.filter((e) => !e.includes('400')),
    [],
    "nothing but the bad value's 400",
  );
  assert.equal(browser.errors.filter((e) => e.startsWith('response: 400 PUT /api/v5/listeners/')).length, 1);
  await browser.close();
  browser = undefined;

  // a viewer reads the values, and cannot save
  browser = await openBrowser();
  await signInPage(browser, b, 'watcher', VIEWER_PASSWORD);
  await browser.page.getByRole('link', { name: 'Limits' }).click();
  const vf = browser.page.getByRole('form', { name: 'Flapping detection settings' });
  await vf.getByLabel('max_count').waitFor({ timeout: 15_000 });
  assert.equal(await vf.getByLabel('max_count').inputValue(), '2');
  assert.equal(await vf.getByRole('button', { name: 'Save on every node' }).count(), 0, 'no save button for a viewer');
  assert.deepEqual(browser.errors, []);
});
