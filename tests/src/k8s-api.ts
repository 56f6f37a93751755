/**
 * A stand-in for the Kubernetes API server (no real one can run here): HTTPS with a
 * throwaway self-signed certificate (openssl), bearer-token check, and the real
 * EndpointSlice JSON shape for one Service. Records every request it gets.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface K8sEndpoint {
  ip: string;
  hostname: string;
  ready: boolean;
}

export interface FakeApiServer {
  url: string;
  caFile: string;
  /** Writes a token file, returns its path. */
  tokenFile(token: string): string;
  requests: { path: string; authorization: string | undefined }[];
  close(): Promise<void>;
}

export async function startFakeApiServer(opts: { namespace: string; service: string; token: string; endpoints: K8sEndpoint[] }): Promise<FakeApiServer> {
  const dir = mkdtempSync(join(tmpdir(), 'vireo-k8s-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    {
      stdio: 'ignore',
    },
  );
  const requests: FakeApiServer['requests'] = [];
  const slices = `/apis/discovery.k8s.io/v1/namespaces/${opts.namespace}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D${opts.service}`;
  const server = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    requests.push({ path: req.url ?? '', authorization: req.headers.authorization });
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${opts.token}`) {
      return json(403, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Forbidden', code: 403, message: 'endpointslices.discovery.k8s.io is forbidden' });
    }
    if (req.url !== slices) return json(404, { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 });
    json(200, {
      kind: 'EndpointSliceList',
      apiVersion: 'discovery.k8s.io/v1',
      items: [
        {
          metadata: { name: `${opts.service}-abcde`, labels: { 'kubernetes.io/service-name': opts.service } },
          addressType: 'IPv4',
          endpoints: opts.endpoints.map((e) => ({ addresses: [e.ip], hostname: e.hostname, conditions: { ready: e.ready } })),
          ports: [{ name: 'cluster', port: 5370, protocol: 'TCP' }],
        },
      ],
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `https://127.0.0.1:${port}`,
    caFile: cert,
    tokenFile(token) {
      const f = join(dir, `token-${token}`);
      writeFileSync(f, `${token}\n`);
      return f;
    },
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
