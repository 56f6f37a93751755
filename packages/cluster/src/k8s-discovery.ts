/**
 * `k8s` discovery: the peers are the ready endpoints of a (headless) Service, read from
 * the API server with the pod's service-account token and CA — EndpointSlices
 * (discovery.k8s.io/v1), or the older Endpoints when the server has no slices.
 * A refusal (401/403: missing RBAC) is logged with what to grant.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { Logger } from 'pino';
import type { Discovery } from './discovery.js';

export interface K8sDiscoveryOptions {
  apiserver: string;
  serviceName: string;
  namespace: string;
  addressType: 'ip' | 'dns' | 'hostname';
  /** Cluster DNS domain, e.g. `cluster.local`. */
  suffix: string;
  /** Port of the peers (this node's cluster port; the same on every pod). */
  port: number;
  tokenFile: string;
  caFile: string;
  logger: Logger;
}

interface Address {
  ip: string;
  hostname: string | undefined;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly path: string,
    body: string,
  ) {
    super(`${status} from ${path}: ${body.slice(0, 200)}`);
  }
}

export function k8sDiscovery(o: K8sDiscoveryOptions): Discovery {
  let lastError = '';

  const get = (path: string): Promise<unknown> => {
    // read on every call: Kubernetes rotates the projected token
    const token = readFileSync(o.tokenFile, 'utf8').trim();
    const ca = readFileSync(o.caFile);
    const url = new URL(path, o.apiserver);
    return new Promise((resolve, reject) => {
      const req = https.get(url, { ca, headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (s: string) => (body += s));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new ApiError(res.statusCode ?? 0, path, body));
          try {
            resolve(JSON.parse(body));
          } catch (err) {
            reject(err);
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`timeout asking ${url.origin}`)));
      req.on('error', reject);
    });
  };

  const ns = encodeURIComponent(o.namespace);
  const svc = encodeURIComponent(o.serviceName);

  const addresses = async (): Promise<Address[]> => {
    try {
      const slices = (await get(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D${svc}`)) as {
        items?: { endpoints?: { addresses?: string[]; hostname?: string; conditions?: { ready?: boolean } }[] }[];
      };
      const out: Address[] = [];
      for (const s of slices.items ?? []) {
        for (const e of s.endpoints ?? []) {
          if (e.conditions?.ready === false) continue;
          for (const ip of e.addresses ?? []) out.push({ ip, hostname: e.hostname });
        }
      }
      return out;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) throw err;
    }
    const ep = (await get(`/api/v1/namespaces/${ns}/endpoints/${svc}`)) as {
      subsets?: { addresses?: { ip: string; hostname?: string }[] }[];
    };
    return (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => ({ ip: a.ip, hostname: a.hostname })));
  };

  const peer = (a: Address): string => {
    switch (o.addressType) {
      case 'dns':
        return `${a.ip.replace(/[.:]/g, '-')}.${o.namespace}.pod.${o.suffix}:${o.port}`;
      case 'hostname':
        return `${a.hostname ?? a.ip}.${o.serviceName}.${o.namespace}.svc.${o.suffix}:${o.port}`;
      default:
        return a.ip.includes(':') ? `[${a.ip}]:${o.port}` : `${a.ip}:${o.port}`;
    }
  };

  return {
    strategy: 'k8s',
    async candidates() {
      try {
        const found = (await addresses()).map(peer);
        if (lastError) o.logger.info({ discovery: 'k8s' }, 'Kubernetes discovery answers again');
        lastError = '';
        return found;
      } catch (err) {
        let msg = err instanceof Error ? err.message : String(err);
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          msg =
            `the API server refused (${err.status}) ${err.path}: the pod's service account needs get/list on ` +
            `endpointslices (discovery.k8s.io) or endpoints in namespace "${o.namespace}" (a Role and RoleBinding)`;
        }
        if (msg !== lastError) o.logger.error({ discovery: 'k8s', apiserver: o.apiserver, service: o.serviceName }, `Kubernetes discovery failed: ${msg}`);
        lastError = msg;
        return [];
      }
    },
    close() {},
  };
}
