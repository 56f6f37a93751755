/**
 * The limits that keep a node alive, changed while it runs, as EMQX 5's configuration API has
 * them: `GET/PUT /api/v5/configs/{flapping_detect|force_shutdown|overload_protection}` (and
 * the three at once as `/api/v5/configs/global_zone`, EMQX 5.1's zone-wide view) and a
 * listener's limiters through `GET/PUT /api/v5/listeners/{id}` (`tcp:default`). Values use the
 * configuration file's syntax (`1m`, `32MB`, `1000/s`, `infinity`). A PUT is checked and applied
 * here, then on every other running node, and kept in memory: a table every node keeps the same
 * (record-sync.ts), so a node that joins later gets it too; a node that restarts alone takes
 * it back from its peers, a cluster restarted whole is back to its configuration files.
 */
import type { FastifyInstance } from 'fastify';
import type { Broker } from '@vireo/broker';
import type { ClusterQuery } from './cluster-query.js';
import { markPartial, type NodeError } from './cluster-query.js';
import { badRequest, errorSchema, notFound } from './errors.js';
import type { SyncedTable } from './record-sync.js';

export type ConfigValues = Record<string, unknown>;

/** One section of the configuration that can change while the node runs. */
export interface ConfigSection {
  /** The values in force, as the configuration file spells them. */
  get(): ConfigValues;
  /**
   * Checks `body` laid over the values in force, and applies it when it is good: the new
   * values of the keys that can change (what other nodes are sent), or every problem with
   * the key's full path (`flapping_detect.max_count`). `dryRun`: checked, not applied.
   */
  put(body: ConfigValues, dryRun?: boolean): { value: ConfigValues } | { errors: { path: string; message: string }[] };
}

/** What the server gives the API to change (packages/server runtime-config.ts). */
export interface RuntimeConfigs {
  /** By EMQX's root key: `flapping_detect`, `force_shutdown`, `overload_protection`. */
  readonly roots: Readonly<Record<string, ConfigSection>>;
  /** A listener's limiters by its id (`tcp:default`); undefined when the node has no such listener. */
  listener(id: string): ConfigSection | undefined;
}

const LISTENER = 'listeners/';

/** The table's id of a section: its root key, or `listeners/<id>`. */
function sectionOf(configs: RuntimeConfigs, id: string): ConfigSection | undefined {
  return id.startsWith(LISTENER) ? configs.listener(id.slice(LISTENER.length)) : configs.roots[id];
}

const isObject = (v: unknown): v is ConfigValues => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The changes made through the API, as a table every node keeps the same. A change a peer
 * cannot take (a listener it lacks, a node of another version) is logged there, not thrown:
 * the other nodes keep theirs.
 */
export function configsTable(broker: Broker, configs: RuntimeConfigs): ConfigsTable {
  const changed = new Map<string, ConfigValues>();
  const table: ConfigsTable = {
    remember: (id, value) => void changed.set(id, value),
    name: 'configs',
    entries: () => [...changed],
    get: (id) => changed.get(id),
    put: (id, value) => {
      const s = sectionOf(configs, id);
      const r = s?.put(value);
      if (r && 'value' in r) {
        changed.set(id, r.value);
        return;
      }
      const why = r ? r.errors.map((e) => `${e.path}: ${e.message}`).join('; ') : 'not on this node';
      broker.logger.warn({ config: id, reason: why }, 'A configuration change from another node was not applied here');
    },
    delete: () => false,
    valid: isObject,
  };
  return table;
}

/** The table, and how the API records a change it applied itself. */
export interface ConfigsTable extends SyncedTable<ConfigValues> {
  remember(id: string, value: ConfigValues): void;
}

const body = { type: 'object', additionalProperties: true } as const;

export function configRoutes(app: FastifyInstance, broker: Broker, q: ClusterQuery, configs: RuntimeConfigs, table: ConfigsTable): void {
  /** Applies here, remembers it, copies it to the other running nodes. */
  /** Applies a checked change here, remembers it, copies it to the other running nodes; the nodes that did not answer. */
  const spread = async (id: string, value: ConfigValues): Promise<NodeError[]> => {
    table.remember(id, value);
    const g = await q.gather(
      'configs.put',
      { id, value },
      q.nodes().filter((n) => n !== q.self),
    );
    broker.logger.info({ config: id, value, unreachable: g.errors.map((e) => e.node) }, 'Configuration changed through the API');
    return g.errors;
  };
  const problems = (errors: { path: string; message: string }[]) => errors.map((e) => `${e.path}: ${e.message}`).join('; ');
  const change = async (id: string, s: ConfigSection, input: ConfigValues, reply: import('fastify').FastifyReply) => {
    const r = s.put(input);
    if ('errors' in r) return badRequest(reply, 'BAD_REQUEST', problems(r.errors));
    markPartial(reply, await spread(id, r.value));
    return s.get();
  };

  // EMQX 5's zone-wide view of the same sections: all of them checked before any is applied
  const zone = () => Object.fromEntries(Object.entries(configs.roots).map(([root, s]) => [root, s.get()]));
  app.get('/api/v5/configs/global_zone', { schema: { summary: `${Object.keys(configs.roots).join(', ')} in force on this node`, tags: ['configs'] } }, async () => zone());
  app.put<{ Body: ConfigValues }>(
    '/api/v5/configs/global_zone',
    {
      schema: {
        summary: `Change any of ${Object.keys(configs.roots).join(', ')} on every running node at once (each as its own /configs/{root} PUT; nothing is applied if one is bad)`,
        tags: ['configs'],
        body,
        response: { 400: errorSchema },
      },
    },
    async (req, reply) => {
      const errors: { path: string; message: string }[] = [];
      for (const [root, v] of Object.entries(req.body)) {
        const s = configs.roots[root];
        if (!s) errors.push({ path: `global_zone.${root}`, message: `not changed here (only ${Object.keys(configs.roots).join(', ')})` });
        else if (typeof v !== 'object' || v === null || Array.isArray(v)) errors.push({ path: root, message: 'expected an object of its keys' });
        else {
          const r = s.put(v as ConfigValues, true);
          if ('errors' in r) errors.push(...r.errors);
        }
      }
      if (errors.length > 0) return badRequest(reply, 'BAD_REQUEST', problems(errors));
      const missing: NodeError[] = [];
      for (const [root, v] of Object.entries(req.body)) {
        const r = configs.roots[root]!.put(v as ConfigValues);
        if ('value' in r) missing.push(...(await spread(root, r.value)));
      }
      markPartial(reply, missing);
      return zone();
    },
  );

  for (const [root, s] of Object.entries(configs.roots)) {
    app.get(`/api/v5/configs/${root}`, { schema: { summary: `\`${root}\` in force on this node`, tags: ['configs'] } }, async () => s.get());
    app.put<{ Body: ConfigValues }>(
      `/api/v5/configs/${root}`,
      {
        schema: {
          summary: `Change \`${root}\` on every running node, at once and without a restart (kept in memory: docs/limits.md). Keys left out keep their value.`,
          tags: ['configs'],
          body,
          response: { 400: errorSchema },
        },
      },
      async (req, reply) => change(root, s, req.body, reply),
    );
  }

  const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', description: '`<type>:<name>`, e.g. `tcp:default`' } } } as const;
  app.get<{ Params: { id: string } }>(
    '/api/v5/listeners/:id',
    { schema: { summary: "A listener of this node with its limiters (EMQX's `max_conn_rate`, `messages_rate`, `bytes_rate` …)", tags: ['listeners'], params: idParams } },
    async (req, reply) => {
      const s = configs.listener(req.params.id);
      if (!s) return notFound(reply, 'NOT_FOUND', `no listener ${req.params.id}`);
      return s.get();
    },
  );
  app.put<{ Params: { id: string }; Body: ConfigValues }>(
    '/api/v5/listeners/:id',
    {
      schema: {
        summary:
          "Change a listener's limiters on every running node, without a restart: `max_conn_rate`, `max_conn_burst`, `messages_rate`, `messages_burst`, `bytes_rate`, `bytes_burst`. Other fields may be sent back as GET gave them; changing them needs a restart.",
        tags: ['listeners'],
        params: idParams,
        body,
        response: { 400: errorSchema },
      },
    },
    async (req, reply) => {
      const s = configs.listener(req.params.id);
      if (!s) return notFound(reply, 'NOT_FOUND', `no listener ${req.params.id}`);
      return change(`${LISTENER}${req.params.id}`, s, req.body, reply);
    },
  );
}
