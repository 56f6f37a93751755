/**
 * The dashboard's tools in a real browser (Debian's Chromium) against a real node: ban a
 * connected client and lift the ban; start a trace, publish, download the trace and find
 * the message in it; publish from the page's WebSocket MQTT client and receive it with
 * mosquitto_sub. The other pages open without errors. A screenshot of each under tests/output/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readZip } from '@vireo/admin';
import { connect, endAll } from './harness.js';
import { killAllVireo } from './vireo-process.js';
import { connackCode } from './ctl-run.js';
import { openBrowser, type Browser } from './browser.js';
import { ADMIN_PASSWORD, API_KEY, call, eventually, startDashCluster, type DashNode } from './dashboard-nodes.js';

const dir = mkdtempSync(join(tmpdir(), 'vireo-dashboard-tools-'));
const keyFile = join(dir, 'keys');
writeFileSync(keyFile, 'ops:dash-key-secret\n');
let node: DashNode;
let browser: Browser;

before(async () => {
  [node] = (await startDashCluster(1, 'dashtools', keyFile)) as [DashNode];
  browser = await openBrowser();
  const { page } = browser;
  await page.goto(node.base + '/');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 15_000 });
});

after(async () => {
  await browser?.close();
  node?.proc.kill('SIGKILL');
  killAllVireo();
  rmSync(dir, { recursive: true, force: true });
});

test('ban a connected client with an expiry, then lift the ban', { timeout: 120_000 }, async () => {
  const { page } = browser;
  const victim = await connect(node.url, { clientId: 'bad-actor', protocolVersion: 5 });
  try {
    const closed = new Promise<void>((resolve) => victim.once('close', () => resolve()));
    await page.goto(`${node.base}/#/access/bans`);
    const form = page.getByRole('form', { name: 'Add a ban' });
    await form.getByLabel('Ban by').selectOption('clientid');
    await form.getByLabel('Who').fill('bad-actor');
    await form.getByLabel('Reason').fill('flooding');
    // an hour from now, in the browser's local time
    const until = await page.evaluate(() => {
      const d = new Date(Date.now() + 3600_000);
      d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
      return d.toISOString().slice(0, 16);
    });
    await form.getByLabel('Until').fill(until);
    await form.getByRole('button', { name: 'Ban' }).click();
    await closed;
    const row = page.getByRole('region', { name: 'Bans' }).getByRole('row').filter({ hasText: 'bad-actor' });
    await row.waitFor();
    await browser.shot('dashboard-bans');
    const listed = await call<{ data: { who: string; until: string; reason: string }[] }>(node.base, 'GET', '/api/v5/banned', API_KEY);
    const ban = listed.json.data.find((b) => b.who === 'bad-actor');
    assert.ok(ban, 'the API lists the ban');
    assert.equal(ban.reason, 'flooding');
    const left = Date.parse(ban.until) - Date.now();
    assert.ok(left > 3000_000 && left <= 3600_000, `expires in about an hour (${left} ms)`);
    assert.equal(await connackCode(node.url, { clientId: 'bad-actor', protocolVersion: 5 }), 0x8a, 'refused while banned');

    await row.getByRole('button', { name: 'Lift' }).click();
    await row.getByRole('button', { name: 'Lift the ban on bad-actor' }).click();
    await page.getByText('Lifted the ban on bad-actor').waitFor();
    await eventually(async () => (await page.getByRole('region', { name: 'Bans' }).getByRole('row').filter({ hasText: 'bad-actor' }).count()) === 0, 'the row to go');
    assert.equal(await connackCode(node.url, { clientId: 'bad-actor', protocolVersion: 5 }), 0, 'admitted once lifted');
    assert.deepEqual(browser.errors, []);
  } finally {
    await endAll(victim);
  }
});

test('start a trace, publish, download the trace and find the message in it', { timeout: 120_000 }, async () => {
  const { page } = browser;
  const pub = await connect(node.url, { clientId: 'tracer-pub', protocolVersion: 5 });
  try {
    await page.goto(`${node.base}/#/diagnose/trace`);
    const form = page.getByRole('form', { name: 'Start a trace' });
    await form.getByLabel('Name').fill('ui-trace');
    await form.getByLabel('Follow').selectOption('topic');
    await form.getByLabel('Topic filter', { exact: true }).fill('ui/trace/#');
    await form.getByLabel('Minutes').fill('5');
    await form.getByRole('button', { name: 'Start' }).click();
    const row = page.getByRole('region', { name: 'Traces' }).getByRole('row').filter({ hasText: 'ui-trace' });
    await row.getByText('running').waitFor();
    await pub.publishAsync('ui/trace/door', 'needle-in-the-trace', { qos: 1 });
    await eventually(
      async () => (await call<{ items: string }>(node.base, 'GET', '/api/v5/trace/ui-trace/log?bytes=100000', API_KEY)).json.items.includes('needle-in-the-trace'),
      'the trace file to hold the message',
    );

    // the page follows the file
    await row.getByRole('button', { name: 'View' }).click();
    await page
      .getByLabel('Trace lines')
      .getByText(/needle-in-the-trace/)
      .waitFor({ timeout: 10_000 });
    await browser.shot('dashboard-trace');
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: 'Download' }).click()]);
    const saved = join(dir, 'download.zip');
    await download.saveAs(saved);
    assert.equal(download.suggestedFilename(), 'ui-trace.zip');
    const files = readZip(readFileSync(saved));
    const text = files.get(`${node.name}-ui-trace.log`)?.toString('utf8') ?? '';
    assert.match(text, /needle-in-the-trace/);

    await row.getByRole('button', { name: 'Stop' }).click();
    await row.getByText(/stopped/).waitFor();
    assert.deepEqual(browser.errors, []);
  } finally {
    await endAll(pub);
  }
});

test("publish from the page's WebSocket client; mosquitto_sub receives it", { timeout: 120_000 }, async () => {
  const { page } = browser;
  const sub = spawn('/usr/bin/mosquitto_sub', ['-h', '127.0.0.1', '-p', String(node.mqttPort), '-i', 'msub', '-t', 'ui/ws/#', '-C', '1', '-v', '-V', 'mqttv5'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  sub.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = new Promise<number | null>((resolve) => sub.once('exit', (code) => resolve(code)));
  try {
    await eventually(async () => {
      const r = await call<{ data: unknown[] }>(node.base, 'GET', '/api/v5/subscriptions?clientid=msub', API_KEY);
      return r.json.data.length > 0;
    }, 'mosquitto_sub to subscribe');

    await page.goto(`${node.base}/#/diagnose/websocket`);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByText(/^Connected as /).waitFor({ timeout: 15_000 });
    // the page's own subscription shows its message too
    const subForm = page.getByRole('form', { name: 'Subscribe' });
    await subForm.getByLabel('Topic filter').fill('ui/ws/#');
    await subForm.getByRole('button', { name: 'Subscribe' }).click();
    await page.getByRole('list', { name: 'Subscribed' }).getByText('ui/ws/#').waitFor();
    const pubForm = page.getByRole('form', { name: 'Publish' });
    await pubForm.getByLabel('Topic').fill('ui/ws/hello');
    await pubForm.getByLabel('QoS').selectOption('1');
    await pubForm.getByLabel('Payload').fill('hello from the browser');
    await pubForm.getByRole('button', { name: 'Publish' }).click();

    assert.equal(await exited, 0, `mosquitto_sub: ${out}`);
    assert.equal(out.trim(), 'ui/ws/hello hello from the browser');
    await page.getByRole('log', { name: 'Received messages' }).getByText('hello from the browser').waitFor();
    await browser.shot('dashboard-websocket');
    // the page's client is a real client of the node
    const ws = await call<{ data: { clientid: string; listener: string }[] }>(node.base, 'GET', '/api/v5/clients?like_clientid=dashboard-', API_KEY);
    assert.equal(ws.json.data[0]?.listener, 'ws:default');
    await page.getByRole('button', { name: 'Disconnect' }).click();
    await page.getByText('Not connected').waitFor();
    assert.deepEqual(browser.errors, []);
  } finally {
    sub.kill('SIGKILL');
  }
});

test('the other pages open and show the node, without errors', { timeout: 120_000 }, async () => {
  const { page } = browser;
  const client = await connect(node.url, { clientId: 'page-tour', protocolVersion: 5 });
  try {
    await client.subscribeAsync('tour/+/temp', { qos: 1 });
    // a rule, so the Rules tab (there because the node serves /api/v5/rules) has a row with counters
    const rule = await call(node.base, 'POST', '/api/v5/rules', API_KEY, { id: 'tour_rule', sql: 'SELECT payload FROM "tour/#"', actions: [] });
    assert.equal(rule.status, 201, JSON.stringify(rule.json));
    await client.publishAsync('tour/1/temp', '21.5', { qos: 1, retain: true });
    const pages: [string, string, RegExp][] = [
      ['#/messaging/subscriptions', 'dashboard-subscriptions', /tour\/\+\/temp/],
      ['#/messaging/topics', 'dashboard-topics', /tour\/\+\/temp/],
      ['#/messaging/retained', 'dashboard-retained', /tour\/1\/temp/],
      ['#/cluster', 'dashboard-cluster', /dashtools0@127\.0\.0\.1/],
      ['#/access/users', 'dashboard-mqtt-users', /MQTT users/],
      ['#/access/acl', 'dashboard-acl', /ACL/],
      ['#/access/api-keys', 'dashboard-api-keys', /Create an API key/],
      ['#/access/dashboard-users', 'dashboard-users', /admin \(you\)/],
      ['#/integrations/bridges', 'dashboard-integrations', /MQTT bridges/],
      ['#/integrations/webhooks', 'dashboard-webhooks', /No webhook is configured/],
      ['#/alarms', 'dashboard-alarms', /No active alarm|Active/],
      ['#/integrations/rules', 'dashboard-rules', /matched 1/],
      ['#/integrations/actions', 'dashboard-actions', /Actions/],
    ];
    // pages for what the node serves appear from its API description: this node has alarms
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Alarms' }).waitFor();
    for (const [hash, shot, expect] of pages) {
      await page.goto(`${node.base}/${hash}`);
      await page.getByText(expect).first().waitFor({ timeout: 10_000 });
      await browser.shot(shot);
    }
    // a retained payload, viewed
    await page.goto(`${node.base}/#/messaging/retained`);
    await page.getByRole('button', { name: 'View the payload of tour/1/temp' }).click();
    await page.getByText('21.5').waitFor();
    // keyboard: Tab reaches the navigation's links, Enter follows one
    await page.goto(`${node.base}/#/overview`);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    let reached = false;
    for (let i = 0; i < 15 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.textContent === 'Clients');
    }
    assert.ok(reached, 'Tab reaches the Clients link');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Clients' }).waitFor();
    assert.deepEqual(browser.errors, []);
  } finally {
    await endAll(client);
  }
});
