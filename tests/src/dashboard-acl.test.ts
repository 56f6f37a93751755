/**
 * The dashboard's ACL page in a real browser (Debian's Chromium) against a real two-node
 * cluster with an ACL file on each node: the administrator sees the rules, a bad edit is
 * refused with the rule named (no file changes), a good one is saved on both nodes and
 * holds for MQTT clients at once; the file changed by hand is reloaded from the page; a
 * viewer reads the rules and finds nothing to change. Screenshots under tests/output/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { connect, endAll } from './harness.js';
import { openBrowser, type Browser } from './browser.js';
import { VIEWER_PASSWORD, keyDir, signInPage, startWithViewer, tearDown } from './dashboard-page.js';
import { ADMIN_PASSWORD, type DashNode } from './dashboard-nodes.js';
import { pubackCode } from './mqtt-codes.js';
import { waitLog } from './cluster-nodes.js';

const { dir, keyFile } = keyDir('dashboard-acl');
const files = [join(dir, 'acl-0.yaml'), join(dir, 'acl-1.yaml')];
const FIRST = '# the first rules\n- {permission: allow}\n';
let nodes: DashNode[] = [];
let browser: Browser | undefined;

before(async () => {
  for (const f of files) writeFileSync(f, FIRST);
  // each node its own file, as on separate machines
  nodes = await startWithViewer('dashacl', keyFile, 'vera', (i) => ({ VIREO_AUTHORIZATION__SOURCES: JSON.stringify([{ type: 'file', path: files[i] }]) }));
});

after(() => tearDown(browser, nodes, dir));

test('an administrator views, edits (checked, saved on every node) and reloads the ACL rules', { timeout: 90_000 }, async () => {
  browser = await openBrowser();
  const { page } = browser;
  const [a, b] = nodes as [DashNode, DashNode];
  let client: MqttClient | undefined;
  try {
    await signInPage(browser, a, 'admin', ADMIN_PASSWORD);
    await page.goto(`${a.base}/#/access/acl`);
    const form = page.getByRole('form', { name: 'Edit the ACL rules' });
    const rules = form.getByLabel(/Rules/);
    await rules.waitFor();
    assert.equal(await rules.inputValue(), FIRST);
    await page.getByText(files[0]!).waitFor();

    // a rule with a bad filter: the page shows why, and no file changed
    await rules.fill('- {permission: allow}\n- {permission: deny, topics: ["a/#/b"]}\n');
    await form.getByRole('button', { name: 'Save on every node' }).click();
    await page.getByRole('alert').filter({ hasText: 'rule 2: topic a/#/b' }).waitFor();
    await browser.shot('dashboard-acl-refused');
    for (const f of files) assert.equal(readFileSync(f, 'utf8'), FIRST);

    // good rules: saved on both nodes, in force for a client of the other node at once
    client = await connect(b.url, { clientId: 'acl-watch', protocolVersion: 5 });
    assert.equal(await pubackCode(client, 'locked/door'), 0);
    const next = '# from the dashboard\n- {permission: deny, action: publish, topics: ["locked/#"]}\n- {permission: allow}\n';
    await rules.fill(next);
    await form.getByRole('button', { name: 'Save on every node' }).click();
    await page.getByText('Saved: the new rules are in force on every node').waitFor();
    for (const f of files) assert.equal(readFileSync(f, 'utf8'), next, f);
    await waitLog(b, 'Authorization rules written and reloaded', (l) => l.rules === 2);
    assert.equal(await pubackCode(client, 'locked/door'), 0x87);
    await page.getByText('file (2 rules)').waitFor();
    await browser.shot('dashboard-acl-saved');

    // the file changed by hand on this node: Reload shows it and uses it
    const byHand = '# by hand\n- {permission: deny, action: publish, topics: ["hand/#"]}\n- {permission: deny, action: publish, topics: ["locked/#"]}\n- {permission: allow}\n';
    writeFileSync(files[0]!, byHand);
    await form.getByRole('button', { name: 'Reload the ACL file' }).click();
    await page.getByText('Reloaded from the file: 3 rules in force on this node').waitFor();
    await page.waitForFunction((t) => (document.querySelector('textarea[name=rules]') as HTMLTextAreaElement | null)?.value === t, byHand);
    // the refused save is logged by the browser as a failed resource load: that one is expected
    assert.deepEqual(
      browser.errors.filter((e) => !e.includes('400')),
      [],
    );
  } finally {
    await endAll(client);
  }
});

test('a viewer reads the ACL rules and has nothing to change them with', { timeout: 60_000 }, async () => {
  const viewer = await openBrowser();
  const [a] = nodes as [DashNode, DashNode];
  try {
    await signInPage(viewer, a, 'vera', VIEWER_PASSWORD);
    await viewer.page.goto(`${a.base}/#/access/acl`);
    await viewer.page.getByLabel('ACL rules').getByText('{permission: allow}').waitFor();
    assert.equal(await viewer.page.getByRole('form', { name: 'Edit the ACL rules' }).count(), 0);
    assert.equal(await viewer.page.getByRole('button', { name: /Save|Reload|Clear the cache/ }).count(), 0);
    await viewer.shot('dashboard-acl-viewer');
    assert.deepEqual(viewer.errors, []);
  } finally {
    await viewer.close();
  }
});
