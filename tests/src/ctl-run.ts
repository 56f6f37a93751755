/** `vireo ctl` as a subprocess, and the CONNACK code of a CONNECT, for the access-control tests. */
import { execFile } from 'node:child_process';
import mqtt, { type IClientOptions } from 'mqtt';
import { VIREO_CLI } from './vireo-process.js';

/** Runs `vireo ctl ARGS` with `env` (and only VIREO_* variables from it), `stdin` piped in. */
export function ctl(env: Record<string, string>, args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('VIREO_')) clean[k] = v;
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [VIREO_CLI, 'ctl', ...args], { env: { ...clean, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}

/** The CONNACK code a refused CONNECT got (MQTT.js puts it on the error), or 0 when accepted. */
export async function connackCode(url: string, opts: IClientOptions): Promise<number> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no CONNACK within 5 s')), 5000);
      client.once('connect', () => (clearTimeout(timer), resolve(0)));
      client.once('error', (err) => (clearTimeout(timer), resolve((err as { code?: number }).code ?? -1)));
    });
  } finally {
    client.end(true);
  }
}
