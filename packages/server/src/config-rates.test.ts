import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { loadConfig } from './config.js';
import { toBrokerConfig } from './broker-config.js';
import { ConfigError } from './config-error.js';

const silent = pino({ enabled: false });

test('listener rate limits: EMQX values reach the broker; infinity (the default) adds nothing', () => {
  const { config } = loadConfig({
    env: {
      VIREO_LISTENERS__TCP__DEFAULT__BIND: '127.0.0.1:1884',
      VIREO_LISTENERS__TCP__DEFAULT__MAX_CONN_RATE: '1000/s',
      VIREO_LISTENERS__TCP__DEFAULT__MAX_CONN_BURST: '10000/60m',
      VIREO_LISTENERS__TCP__DEFAULT__MESSAGES_RATE: '100/s',
      VIREO_LISTENERS__TCP__DEFAULT__MESSAGES_BURST: '0',
      VIREO_LISTENERS__TCP__DEFAULT__BYTES_RATE: '1MB/s',
      VIREO_LISTENERS__WS__DEFAULT__BYTES_RATE: 'infinity',
    },
  });
  const [tcp, ws] = toBrokerConfig(config, silent).listeners ?? [];
  assert.deepEqual(tcp, {
    type: 'tcp',
    name: 'tcp:default',
    host: '127.0.0.1',
    port: 1884,
    maxConnections: 1_024_000,
    maxConnRate: { amount: 1000, intervalMs: 1000 },
    maxConnBurst: { amount: 10000, intervalMs: 3_600_000 },
    messagesRate: { amount: 100, intervalMs: 1000 },
    bytesRate: { amount: 1024 * 1024, intervalMs: 1000 },
  });
  assert.deepEqual(ws, { type: 'ws', name: 'ws:default', host: '0.0.0.0', port: 8083, maxConnections: 1_024_000, path: '/mqtt' });
});

test('a bad rate fails start-up naming the key', () => {
  const bad = (env: Record<string, string>) => {
    try {
      loadConfig({ env });
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.issues.map((i) => `${i.path}: ${i.message}`);
    }
    assert.fail('the configuration was accepted');
  };
  assert.deepEqual(bad({ VIREO_LISTENERS__TCP__DEFAULT__MESSAGES_RATE: '1000' }), [
    'listeners.tcp.default.messages_rate: expected a rate like 1000/s or 10000/60m, or infinity, got 1000',
  ]);
  assert.deepEqual(bad({ VIREO_LISTENERS__SSL__DEFAULT__BYTES_RATE: '1XB/s' }), [
    'listeners.ssl.default.bytes_rate: expected a rate like 1MB/s, 64KB/s or 100MB/60m, or infinity, got "1XB/s"',
  ]);
  assert.deepEqual(bad({ VIREO_LISTENERS__WS__DEFAULT__MAX_CONN_RATE: '1MB/s' }), [
    'listeners.ws.default.max_conn_rate: expected a rate like 1000/s or 10000/60m, or infinity, got "1MB/s"',
  ]);
  assert.deepEqual(bad({ VIREO_LISTENERS__TCP__DEFAULT__MAX_CONN_BURST: 'lots' }), ['listeners.tcp.default.max_conn_burst: expected 0 or a rate like 10000/60m, got "lots"']);
});
