/**
 * `vireo ctl …`: operate the local node through its HTTP API, with the node's own
 * configuration (same file and VIREO_* environment as `vireo start`) telling where the API
 * listens and which API key to use. Readable output in a terminal, `--json` for scripts;
 * any failure exits non-zero with one clear line on stderr.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { loadConfig } from './config.js';
import { record, table } from './ctl-format.js';
import { CLUSTER_USAGE, ClusterUsageError, clusterCommand } from './ctl-cluster.js';
import { SECURITY_USAGE, SecurityUsageError, securityCommand } from './ctl-security.js';
import { RETAINER_USAGE, RetainerUsageError, retainerCommand } from './ctl-retainer.js';
import { RULES_USAGE, RulesUsageError, rulesCommand } from './ctl-rules.js';
import { REBALANCE_OPTIONS, REBALANCE_USAGE, RebalanceUsageError, rebalanceCommand, type RebalanceOpts } from './ctl-rebalance.js';

export const CTL_USAGE = `Usage: vireo ctl COMMAND [--json] [--url URL] [--api-key KEY:SECRET] [--config FILE]
  status                               Is the node running?
${CLUSTER_USAGE}  clients list [--limit N] [--page N]  Clients of every node of the cluster
  clients show CLIENTID                One client
  clients kick CLIENTID                Disconnect a client (DISCONNECT 0x98) and end its session
  subscriptions list [--clientid ID]   Subscriptions
  subscriptions show CLIENTID           One client's subscriptions
  subscriptions add CLIENTID TOPIC [--qos N]
  subscriptions del CLIENTID TOPIC
  topics list                          The route table
  listeners                            Listeners with connections and disconnects by reason
  broker stats | metrics               Counts and counters
  publish TOPIC PAYLOAD [--qos N] [--retain]
  trace start client|topic|ip FILTER [--name N] [--duration SECONDS]   (file: <data_dir>/trace/N.log on each node)
                                       Follow a client id, topic filter or address into FILE
  trace stop NAME | trace list
${RETAINER_USAGE}${RULES_USAGE}${SECURITY_USAGE}${REBALANCE_USAGE}
The API address comes from dashboard.listeners.http.bind and the key from the first
line of api_key.bootstrap_file, unless --url / --api-key (or VIREO_CTL_URL /
VIREO_CTL_API_KEY) are given.
`;

class CtlError extends Error {}

interface Ctx {
  url: string;
  auth: string | undefined;
  json: boolean;
}

export async function runCtl(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean' },
        url: { type: 'string' },
        'api-key': { type: 'string' },
        config: { type: 'string', short: 'c' },
        limit: { type: 'string' },
        page: { type: 'string' },
        clientid: { type: 'string' },
        qos: { type: 'string' },
        retain: { type: 'boolean' },
        name: { type: 'string' },
        duration: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        superuser: { type: 'boolean' },
        reason: { type: 'string' },
        until: { type: 'string' },
        desc: { type: 'string' },
        role: { type: 'string' },
        ...REBALANCE_OPTIONS,
      },
    });
  } catch (err) {
    process.stderr.write(`vireo ctl: ${err instanceof Error ? err.message : String(err)}\n\n${CTL_USAGE}`);
    return 2;
  }
  const { values: v, positionals: p } = parsed;
  if (v.help || p.length === 0) {
    (v.help ? process.stdout : process.stderr).write(CTL_USAGE);
    return v.help ? 0 : 2;
  }
  try {
    const ctx = context(v.url, v['api-key'], v.config, v.json ?? false);
    const out = await dispatch(ctx, p, v);
    process.stdout.write(out);
    return 0;
  } catch (err) {
    process.stderr.write(`vireo ctl: ${err instanceof Error ? err.message : String(err)}\n`);
    if (
      err instanceof SecurityUsageError ||
      err instanceof ClusterUsageError ||
      err instanceof RetainerUsageError ||
      err instanceof RulesUsageError ||
      err instanceof RebalanceUsageError
    ) {
      process.stderr.write(`\n${CTL_USAGE}`);
      return 2;
    }
    return err instanceof UsageError ? 2 : 1;
  }
}

class UsageError extends CtlError {}

function context(url: string | undefined, apiKey: string | undefined, configFile: string | undefined, json: boolean): Ctx {
  url ??= process.env.VIREO_CTL_URL;
  apiKey ??= process.env.VIREO_CTL_API_KEY;
  if (url === undefined || apiKey === undefined) {
    // VIREO_CTL_* are ours, not configuration keys
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VIREO_CTL_')));
    const { config } = loadConfig({ file: configFile, env });
    const bind = config.dashboard.listeners.http.bind;
    if (bind.port === 0) throw new CtlError('the HTTP API is off on this node (dashboard.listeners.http.bind has port 0)');
    const host = bind.host === '0.0.0.0' || bind.host === '::' ? '127.0.0.1' : bind.host;
    url ??= `http://${host.includes(':') ? `[${host}]` : host}:${bind.port}`;
    const file = config.api_key.bootstrap_file;
    if (apiKey === undefined && file !== undefined) {
      const first = readFileSync(file, 'utf8')
        .split(/\r?\n/)
        .map((l) => l.trim())
        .find((l) => l && !l.startsWith('#'));
      apiKey = first;
    }
  }
  return { url: url.replace(/\/$/, ''), auth: apiKey ? `Basic ${Buffer.from(apiKey).toString('base64')}` : undefined, json };
}

async function call(ctx: Ctx, method: string, path: string, body?: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(ctx.url + path, {
      method,
      headers: { ...(ctx.auth ? { authorization: ctx.auth } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    throw new CtlError(`cannot reach the node at ${ctx.url}${cause ? ` (${cause})` : ''}: is it running?`);
  }
  const text = await res.text();
  if (res.status === 401) throw new CtlError('the node refused the API key (set api_key.bootstrap_file, or pass --api-key KEY:SECRET)');
  if (res.status >= 400) {
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      /* plain text */
    }
    throw new CtlError(`${method} ${path}: ${res.status} ${message}`);
  }
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

type Opts = RebalanceOpts & {
  superuser?: boolean;
  reason?: string;
  until?: string;
  desc?: string;
  role?: string;
  limit?: string;
  page?: string;
  clientid?: string;
  qos?: string;
  retain?: boolean;
  name?: string;
  duration?: string;
};

const TRACE_TYPES: Record<string, string> = { client: 'clientid', clientid: 'clientid', topic: 'topic', ip: 'ip_address', ip_address: 'ip_address' };

async function dispatch(ctx: Ctx, p: string[], v: Opts): Promise<string> {
  const [a, b, c, d] = p;
  const need = (x: string | undefined, what: string): string => {
    if (x === undefined) throw new UsageError(`missing ${what}\n\n${CTL_USAGE}`);
    return x;
  };
  const out = (data: unknown, text: () => string) => (ctx.json ? `${JSON.stringify(data, null, 2)}\n` : text());
  const qs = new URLSearchParams();
  if (v.limit) qs.set('limit', v.limit);
  if (v.page) qs.set('page', v.page);
  if (v.clientid) qs.set('clientid', v.clientid);
  const query = qs.size ? `?${qs}` : '';
  switch (`${a} ${b ?? ''}`.trim()) {
    case 'status': {
      const s = await call(ctx, 'GET', '/status');
      return out({ status: s }, () => String(s));
    }
    case 'clients list': {
      const r = (await call(ctx, 'GET', `/api/v5/clients${query}`)) as { data: Record<string, unknown>[]; meta: { count: number; errors?: { node: string; message: string }[] } };
      // a cluster-wide list says which nodes did not answer (it is partial then)
      const missing = (r.meta.errors ?? []).map((e) => `no answer from ${e.node}: ${e.message}\n`).join('');
      return out(
        r,
        () =>
          table(r.data, ['clientid', 'username', 'connected', 'node', 'ip_address', 'proto_ver', 'keepalive', 'subscriptions_cnt', 'mqueue_len']) +
          `${r.meta.count} client(s)\n` +
          missing,
      );
    }
    case 'clients show': {
      const r = (await call(ctx, 'GET', `/api/v5/clients/${encodeURIComponent(need(c, 'CLIENTID'))}`)) as Record<string, unknown>;
      return out(r, () => record(r));
    }
    case 'clients kick':
      await call(ctx, 'DELETE', `/api/v5/clients/${encodeURIComponent(need(c, 'CLIENTID'))}`);
      return out({ kicked: c }, () => `kicked ${c}\n`);
    case 'subscriptions list': {
      const r = (await call(ctx, 'GET', `/api/v5/subscriptions${query}`)) as { data: Record<string, unknown>[] };
      return out(r, () => table(r.data, ['clientid', 'topic', 'qos', 'nl', 'rap', 'rh', 'node']));
    }
    case 'subscriptions show': {
      // EMQX's `subscriptions show <ClientId>`: one client's subscriptions, on whichever node it is
      const r = (await call(ctx, 'GET', `/api/v5/clients/${encodeURIComponent(need(c, 'CLIENTID'))}/subscriptions`)) as Record<string, unknown>[];
      return out(r, () => table(r, ['topic', 'qos', 'nl', 'rap', 'rh']));
    }
    case 'subscriptions add': {
      const body = { topic: need(d, 'TOPIC'), qos: Number(v.qos ?? 0) };
      const r = await call(ctx, 'POST', `/api/v5/clients/${encodeURIComponent(need(c, 'CLIENTID'))}/subscribe`, body);
      return out(r, () => `subscribed ${c} to ${d} (QoS ${body.qos})\n`);
    }
    case 'subscriptions del':
      await call(ctx, 'POST', `/api/v5/clients/${encodeURIComponent(need(c, 'CLIENTID'))}/unsubscribe`, { topic: need(d, 'TOPIC') });
      return out({ unsubscribed: d }, () => `unsubscribed ${c} from ${d}\n`);
    case 'topics list': {
      const r = (await call(ctx, 'GET', `/api/v5/topics${query}`)) as { data: Record<string, unknown>[] };
      return out(r, () => table(r.data, ['topic', 'node']));
    }
    case 'listeners': {
      const r = (await call(ctx, 'GET', '/api/v5/listeners')) as Record<string, unknown>[];
      return out(r, () => table(r, ['id', 'bind', 'current_connections', 'max_connections', 'shutdown_count']));
    }
    case 'broker stats':
    case 'broker metrics': {
      const r = (await call(ctx, 'GET', `/api/v5/${b}?aggregate=true`)) as Record<string, unknown>;
      return out(r, () => record(r));
    }
    case 'trace start': {
      const type = TRACE_TYPES[need(c, 'client|topic|ip')];
      if (!type) throw new UsageError(`trace type must be client, topic or ip, not ${c}`);
      const filter = need(d, 'FILTER');
      if (p[4] !== undefined) throw new UsageError(`trace start takes no FILE: traces are written to <data_dir>/trace/<name>.log on each node`);
      const name =
        v.name ??
        `${type}-${filter}`
          .replace(/[^A-Za-z0-9_.-]/g, '_')
          .replace(/^\./, '_')
          .slice(0, 64);
      const body = { name, type, [type]: filter, ...(v.duration ? { duration: Number(v.duration) } : {}) };
      const r = (await call(ctx, 'POST', '/api/v5/trace', body)) as Record<string, unknown>;
      return out(r, () => `trace ${name} started: ${type} ${filter} → ${String(r.file)} until ${String(r.end_at)}\n`);
    }
    case 'trace stop':
      await call(ctx, 'PUT', `/api/v5/trace/${encodeURIComponent(need(c, 'NAME'))}/stop`);
      return out({ stopped: c }, () => `trace ${c} stopped\n`);
    case 'trace list': {
      const r = (await call(ctx, 'GET', '/api/v5/trace')) as Record<string, unknown>[];
      // log_size is per node (EMQX's shape); the table shows the cluster's total and how many nodes
      const rows = r.map((t) => {
        const sizes = typeof t.log_size === 'object' && t.log_size !== null ? Object.values(t.log_size as Record<string, number>) : [];
        return { ...t, log_size: sizes.reduce((n, v) => n + v, 0), nodes: sizes.length };
      });
      return out(r, () => table(rows, ['name', 'type', 'status', 'file', 'log_size', 'nodes', 'end_at']));
    }
    default: {
      const cluster = clusterCommand(p, (method, path, body) => call(ctx, method, path, body), out);
      if (cluster) return cluster;
      const security = securityCommand(p, v, (method, path, body) => call(ctx, method, path, body), out);
      if (security) return security;
      const retainer = retainerCommand(p, (method, path, body) => call(ctx, method, path, body), out);
      if (retainer) return retainer;
      const rules = rulesCommand(p, (method, path, body) => call(ctx, method, path, body), out);
      if (rules) return rules;
      const rebalance = rebalanceCommand(p, v, (method, path, body) => call(ctx, method, path, body), out);
      if (rebalance) return rebalance;
      if (a === 'publish') {
        const body = { topic: need(b, 'TOPIC'), payload: need(c, 'PAYLOAD'), qos: Number(v.qos ?? 0), retain: v.retain ?? false };
        const r = await call(ctx, 'POST', '/api/v5/publish', body);
        return out(r, () => `published to ${b}${(r as { reason_code?: number }).reason_code === 16 ? ' (no subscriber)' : ''}\n`);
      }
      throw new UsageError(`unknown command: ${p.join(' ')}\n\n${CTL_USAGE}`);
    }
  }
}
