#!/usr/bin/env node
/**
 * Regenerates the screenshots of docs/dashboard.md (docs/images/dashboard-*.png): a real
 * two-node cluster with some traffic, and the dashboard in Debian's Chromium. Needs a build
 * (`npm run build`, which also builds tests/dist). Takes about a minute.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { ADMIN_PASSWORD, API_KEY, call, startDashCluster } from '../tests/dist/dashboard-nodes.js';
import { openBrowser } from '../tests/dist/browser.js';
import { killAllVireo } from '../tests/dist/vireo-process.js';

const out = fileURLToPath(new URL('../docs/images/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vireo-shots-'));
writeFileSync(join(dir, 'keys'), 'ops:dash-key-secret\n');
const clients = [];
let browser;
let timer;
try {
  const nodes = await startDashCluster(2, 'vireo', join(dir, 'keys'));
  const open = (node, clientId, opts = {}) =>
    new Promise((resolve, reject) => {
      const c = mqtt.connect(node.url, { clientId, reconnectPeriod: 0, protocolVersion: 5, ...opts });
      c.once('connect', () => resolve(c));
      c.once('error', reject);
      clients.push(c);
    });
  // a small fleet: sensors publishing, a few subscribers, retained states
  const sensors = [];
  for (let i = 0; i < 12; i++) sensors.push(await open(nodes[i % 2], `sensor-${String(i).padStart(3, '0')}`, { username: `fleet-${i % 3}`, protocolVersion: i % 4 === 0 ? 4 : 5 }));
  for (let i = 0; i < 3; i++) {
    const s = await open(nodes[i % 2], `dashboard-app-${i}`, { username: 'ops' });
    await s.subscribeAsync(i === 2 ? '$share/g/sensors/+/temp' : 'sensors/#', { qos: 1 });
  }
  for (const [i, s] of sensors.entries()) await s.publishAsync(`sensors/${i}/state`, JSON.stringify({ online: true, fw: '1.4.2' }), { qos: 1, retain: true });
  let n = 0;
  timer = setInterval(() => {
    for (const [i, s] of sensors.entries()) if ((n + i) % 3 !== 0) s.publish(`sensors/${i}/temp`, String(20 + ((n * 7 + i) % 50) / 10), { qos: n % 2 });
    n++;
  }, 40);
  await call(nodes[0].base, 'POST', '/api/v5/banned', API_KEY, { as: 'clientid', who: 'rogue-device', reason: 'flooding', until: new Date(Date.now() + 86400_000).toISOString() });
  await call(nodes[0].base, 'POST', '/api/v5/trace', API_KEY, { name: 'sensor-7', type: 'clientid', clientid: 'sensor-007' });
  await new Promise((r) => setTimeout(r, 45_000));

  browser = await openBrowser({ width: 1280, height: 800 });
  const { page } = browser;
  const shot = (name) => page.screenshot({ path: join(out, `dashboard-${name}.png`), fullPage: true });
  await page.goto(nodes[1].base + '/');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByLabel('Password').press('Enter');
  await page.locator('.chart canvas').first().waitFor();
  await page.waitForTimeout(6000);
  await shot('overview');
  await page.goto(nodes[1].base + '/#/clients');
  await page.getByText('sensor-000').waitFor();
  await shot('clients');
  await page.goto(nodes[1].base + '/#/clients/dashboard-app-0');
  await page.getByText('sensors/#').waitFor();
  await shot('client');
  await page.goto(nodes[1].base + '/#/messaging/retained');
  await page.getByRole('button', { name: 'View the payload of sensors/3/state' }).click();
  await page.getByText('"fw"', { exact: false }).first().waitFor();
  await shot('retained');
  await page.goto(nodes[1].base + '/#/cluster');
  await page.getByText('vireo1@127.0.0.1').first().waitFor();
  await shot('cluster');
  await page.goto(nodes[1].base + '/#/access/bans');
  await page.getByText('rogue-device').waitFor();
  await shot('bans');
  await page.goto(nodes[1].base + '/#/diagnose/trace');
  const row = page.getByRole('region', { name: 'Traces' }).getByRole('row').filter({ hasText: 'sensor-7' });
  await row.getByRole('button', { name: 'View' }).click();
  await page.getByLabel('Trace lines').getByText(/publish_in/).first().waitFor();
  await shot('trace');
  await page.goto(nodes[1].base + '/#/diagnose/websocket');
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.getByText(/^Connected as /).waitFor();
  const sub = page.getByRole('form', { name: 'Subscribe' });
  await sub.getByLabel('Topic filter').fill('sensors/1/#');
  await sub.getByRole('button', { name: 'Subscribe' }).click();
  await page.getByRole('log', { name: 'Received messages' }).getByText('sensors/1/temp').first().waitFor();
  await shot('websocket');
  await browser.close();
  browser = await openBrowser({ width: 390, height: 844 });
  await browser.page.goto(nodes[0].base + '/');
  await browser.page.getByLabel('Username').fill('admin');
  await browser.page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await browser.page.getByLabel('Password').press('Enter');
  await browser.page.locator('.chart canvas').first().waitFor();
  await browser.page.waitForTimeout(3000);
  await browser.page.screenshot({ path: join(out, 'dashboard-phone.png'), fullPage: false });
  console.log(`screenshots written to ${out}`);
} finally {
  clearInterval(timer);
  for (const c of clients) c.end(true);
  await browser?.close();
  killAllVireo();
  rmSync(dir, { recursive: true, force: true });
}
