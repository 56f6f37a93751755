/**
 * Start-up order: the MQTT listener opens last, once the store, cluster, HTTP API and rules
 * are up, so clients that connect the moment the port opens (a load balancer's backlog, a
 * restart under load) meet a node with nothing left to start. Observed from outside, as a
 * probe or a client would: a real `vireo start` process, polled.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { freePort, waitFor } from './harness.js';
import { killAllVireo, spawnVireo } from './vireo-process.js';

afterEach(() => killAllVireo());

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

test('the MQTT port opens after the HTTP API, and readiness says ready from then on', { timeout: 120_000 }, async () => {
  const mqtt = await freePort();
  const http = await freePort();
  const vireo = spawnVireo({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${mqtt}`,
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${http}`,
    },
  });
  // poll the MQTT port as a client would; the moment it accepts, ask the HTTP API
  let open = false;
  let apiStatus = 0;
  let apiError = '';
  const poll = async () => {
    while (!open && vireo.child.exitCode === null) {
      if (await accepts(mqtt)) {
        open = true;
        try {
          apiStatus = (await fetch(`http://127.0.0.1:${http}/api/v5/status`)).status;
        } catch (err) {
          apiError = String((err as { cause?: unknown }).cause ?? err);
        }
      }
    }
  };
  const polling = poll();
  await waitFor(() => open || vireo.child.exitCode !== null, 'the MQTT port to open', 30_000);
  await polling;
  assert.ok(open, `the node exited: ${vireo.stderr()}`);
  assert.equal(apiError, '', 'the HTTP API was up when the MQTT port opened');
  assert.equal(apiStatus, 200, 'and readiness said ready');
  await vireo.waitForLog('started', 10_000);
  vireo.kill('SIGTERM');
  assert.equal((await vireo.waitExit(15_000)).code, 0);
});
