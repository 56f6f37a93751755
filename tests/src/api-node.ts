/**
 * A single test node with its HTTP API on: free MQTT and HTTP ports, an API key file
 * (`ops:<secret>`) in the test's own dir, and the VIREO_* variables both the node and
 * `vireo ctl` read. Tests add their own keys (data dir, authentication, ACL) to `env`.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './harness.js';

export interface ApiNodeEnv {
  keyFile: string;
  mqttPort: number;
  httpPort: number;
  env: Record<string, string>;
}

/** `dir`: the test's temp dir (it removes it). */
export async function apiNodeEnv(dir: string, secret = 's3cret'): Promise<ApiNodeEnv> {
  const keyFile = path.join(dir, 'keys');
  writeFileSync(keyFile, `ops:${secret}\n`);
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const env = {
    VIREO_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${mqttPort}`,
    VIREO_LISTENERS__WS__DEFAULT__BIND: '0',
    VIREO_DASHBOARD__LISTENERS__HTTP__BIND: `127.0.0.1:${httpPort}`,
    VIREO_API_KEY__BOOTSTRAP_FILE: keyFile,
  };
  return { keyFile, mqttPort, httpPort, env };
}

/** One series' value from the node's Prometheus text (the first with that name), NaN when absent. */
export async function metric(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/api/v5/prometheus/stats`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.split(' ').pop()) : NaN;
}
