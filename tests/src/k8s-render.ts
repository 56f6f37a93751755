/**
 * The Kubernetes files as a cluster would see them: each kustomization rendered by the
 * machine's `kubectl kustomize`, the Secrets made by the commands docs/deployment.md tells
 * operators to run (`kubectl create secret generic … --dry-run=client`, offline), and what a
 * pod of the StatefulSet gets from them: its environment and its mounted files.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const repoFile = (f: string) => fileURLToPath(new URL(`../../${f}`, import.meta.url));

/** The kubectl on PATH, or undefined (tests then skip, saying so; .ci/run installs one). */
export const KUBECTL: string | undefined = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
})();
export const NO_KUBECTL = KUBECTL ? false : 'kubectl is not installed: the Kubernetes files cannot be rendered here (.ci/run installs kubernetes-client)';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string }[];
}
export interface Volume {
  name: string;
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  configMap?: { name: string; items?: { key: string; path: string }[] };
}
export interface PodSpec {
  serviceAccountName?: string;
  terminationGracePeriodSeconds?: number;
  containers: Container[];
  volumes?: Volume[];
  affinity?: { podAntiAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { topologyKey: string; labelSelector?: { matchLabels?: Record<string, string> } }[] } };
}
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  rules?: { resources: string[]; verbs: string[] }[];
  // the kinds' specs differ: each test reads the fields of the kind it checks
  spec?: Record<string, unknown> & {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> };
    template?: { metadata?: { labels?: Record<string, string> }; spec: PodSpec };
  };
}

export function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** `kubectl kustomize DIR` (a path under the repository). */
export function render(dir: string): K8sObject[] {
  return parseObjects(execFileSync(KUBECTL!, ['kustomize', repoFile(dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
}

export function one(objs: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0];
}

/**
 * The shell blocks of docs/deployment.md that create Secrets, each run through bash in a
 * scratch directory as written, except that `kubectl … create secret generic …` gets
 * `--dry-run=client -o yaml` (offline) and other kubectl lines (creating the namespace)
 * are skipped: the Secrets an operator following the docs ends up with, values decoded.
 */
export function documentedSecrets(): Map<string, Record<string, string>> {
  const doc = readFileSync(repoFile('docs/deployment.md'), 'utf8');
  const blocks = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1].replace(/\\\n\s*/g, ' ')).filter((b) => /\bcreate secret generic\b/.test(b));
  const out = new Map<string, Record<string, string>>();
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-doc-secrets-'));
  try {
    for (const block of blocks) {
      const script = block
        .split('\n')
        .map((l) => (/^\s*kubectl\b.*\bcreate secret generic\b/.test(l) ? `${l} --dry-run=client -o yaml; echo ---` : /^\s*kubectl\b/.test(l) ? `: ${JSON.stringify(l)}` : l))
        .join('\n');
      const yaml = execFileSync('bash', ['-c', `set -euo pipefail\n${script}`], { cwd: dir, encoding: 'utf8' });
      for (const secret of parseObjects(yaml)) {
        const data: Record<string, string> = {};
        for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
        out.set(secret.metadata.name, data);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** `$(VAR)` references expanded from variables defined before, as the kubelet does. */
const expand = (v: string, env: Record<string, string>) => v.replace(/\$\((\w+)\)/g, (m, name: string) => env[name] ?? m);

/**
 * The environment a container gets, for a pod named `pod` in `namespace`: envFrom
 * ConfigMaps, then env (values, Secret and ConfigMap keys, downward API fields).
 */
export function containerEnv(objs: K8sObject[], secrets: Map<string, Record<string, string>>, c: Container, pod: string, namespace: string): Record<string, string> {
  const env: Record<string, string> = {};
  const configMap = (name: string) => one(objs, 'ConfigMap', name).data ?? {};
  const secret = (name: string) => {
    const s = secrets.get(name);
    if (!s) throw new Error(`container ${c.name} uses the Secret ${name}, which docs/deployment.md does not tell how to create`);
    return s;
  };
  for (const f of c.envFrom ?? []) {
    if (f.configMapRef) Object.assign(env, configMap(f.configMapRef.name));
    if (f.secretRef) Object.assign(env, secret(f.secretRef.name));
  }
  const fields: Record<string, string> = { 'metadata.name': pod, 'metadata.namespace': namespace };
  for (const e of c.env ?? []) {
    const from = e.valueFrom;
    let v: string | undefined;
    if (e.value !== undefined) v = expand(e.value, env);
    else if (from?.secretKeyRef) v = secret(from.secretKeyRef.name)[from.secretKeyRef.key];
    else if (from?.configMapKeyRef) v = configMap(from.configMapKeyRef.name)[from.configMapKeyRef.key];
    else if (from?.fieldRef) v = fields[from.fieldRef.fieldPath];
    if (v === undefined) throw new Error(`container ${c.name}: variable ${e.name} has no value (${JSON.stringify(e)})`);
    env[e.name] = v;
  }
  return env;
}

/**
 * Writes the Secret and ConfigMap volumes a container mounts under `root` (mountPath
 * /etc/x → root/etc/x) and returns the mount paths with where they landed.
 */
export function materializeMounts(objs: K8sObject[], secrets: Map<string, Record<string, string>>, spec: PodSpec, c: Container, root: string): Map<string, string> {
  const mounts = new Map<string, string>();
  for (const m of c.volumeMounts ?? []) {
    const vol = spec.volumes?.find((v) => v.name === m.name);
    if (!vol) continue; // a volumeClaimTemplate: the data dir, which tests give their own
    let data: Record<string, string>;
    let items: { key: string; path: string }[] | undefined;
    if (vol.secret) {
      const s = secrets.get(vol.secret.secretName);
      if (!s) throw new Error(`volume ${vol.name} mounts the Secret ${vol.secret.secretName}, which docs/deployment.md does not tell how to create`);
      data = s;
      items = vol.secret.items;
    } else if (vol.configMap) {
      data = one(objs, 'ConfigMap', vol.configMap.name).data ?? {};
      items = vol.configMap.items;
    } else continue;
    const dir = path.join(root, m.mountPath);
    mkdirSync(dir, { recursive: true });
    for (const { key, path: file } of items ?? Object.keys(data).map((k) => ({ key: k, path: k }))) {
      if (data[key] === undefined) throw new Error(`volume ${vol.name}: key ${key} is missing`);
      writeFileSync(path.join(dir, file), data[key]);
    }
    mounts.set(m.mountPath, dir);
  }
  return mounts;
}

/** Every mount path in `s` replaced by where materializeMounts put it. */
export function remap(s: string, mounts: Map<string, string>): string {
  for (const [from, to] of mounts) s = s.replaceAll(from, to);
  return s;
}
