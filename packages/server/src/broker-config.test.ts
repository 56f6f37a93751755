import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { DEFAULT_MQTT, DEFAULT_SYS } from '@vireo/broker';
import { loadConfig } from './config.js';
import { toBrokerConfig } from './broker-config.js';

const silent = pino({ enabled: false });

test('defaults map to the broker defaults exactly (EMQX values on both sides)', () => {
  const b = toBrokerConfig(loadConfig({ env: {} }).config, silent);
  assert.deepEqual(b.mqtt, DEFAULT_MQTT);
  assert.deepEqual(b.sys, DEFAULT_SYS);
  assert.deepEqual(b.listeners, [
    { type: 'tcp', name: 'tcp:default', host: '0.0.0.0', port: 1883, maxConnections: 1_024_000 },
    { type: 'ws', name: 'ws:default', host: '0.0.0.0', port: 8083, maxConnections: 1_024_000, path: '/mqtt' },
  ]);
  assert.equal(b.logger, silent);
  assert.match(b.nodeName ?? '', /^vireo@/);
});

test('port 0 omits the listener; values carry over in broker units', () => {
  const { config } = loadConfig({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: '127.0.0.1:1884',
      VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
      VIREO_MQTT__SERVER_KEEPALIVE: '30',
      VIREO_MQTT__MAX_SUBSCRIPTIONS: 'infinity',
      VIREO_MQTT__SESSION_EXPIRY_INTERVAL: '1h',
      VIREO_MQTT__MAX_QOS_ALLOWED: '1',
      VIREO_SYS_TOPICS__SYS_MSG_INTERVAL: 'disabled',
      VIREO_NODE__NAME: 'vireo@n1',
    },
  });
  const b = toBrokerConfig(config, silent);
  assert.deepEqual(b.listeners, [{ type: 'tcp', name: 'tcp:default', host: '127.0.0.1', port: 1884, maxConnections: 1_024_000 }]);
  assert.equal(b.nodeName, 'vireo@n1');
  assert.equal(b.mqtt?.serverKeepalive, 30);
  assert.equal(b.mqtt?.maxSubscriptions, 0);
  assert.equal(b.mqtt?.sessionExpiryInterval, 3_600_000);
  assert.equal(b.mqtt?.maxQosAllowed, 1);
  assert.equal(b.sys?.sysMsgInterval, 0);
});

test('both listeners disabled: an explicit empty list, not the broker default', () => {
  const { config } = loadConfig({ env: { VIREO_LISTENERS__TCP__DEFAULT__BIND: '0', VIREO_LISTENERS__WS__DEFAULT__BIND: '0' } });
  assert.deepEqual(toBrokerConfig(config, silent).listeners, []);
});
