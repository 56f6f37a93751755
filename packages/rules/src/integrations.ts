/**
 * Connectors and actions made through the API (EMQX 5's `POST/PUT/DELETE /connectors` and
 * `/actions`), beside those of the configuration: built into the same maps the rule engine
 * and the API read, kept in the node's record table `integrations` so they survive a
 * restart, and copied to every node by the admin package (as rules are). Those of the
 * configuration are read-only here (they would come back at the next start).
 *
 * A changed connector or action is built anew and the actions and rules using it are
 * rebuilt on the new one; the old one is closed. A connector an action uses, or an action a
 * rule uses, cannot be deleted.
 */
import type { Logger } from 'pino';
import type { RecordTable } from '@vireo/broker';
import type { RuleEngine } from './engine.js';
import type { RuleAction, SinkType } from './actions/action.js';
import type { Connector, Sink } from './actions/sink.js';
import { buildConnector, buildSink, SpecError, type ActionSpec, type ConnectorSpec } from './actions/build.js';

export const INTEGRATION_TYPES: readonly SinkType[] = ['pgsql', 'redis', 'http'];

/** A change refused: `status` 400 (bad), 404 (none), 409 (in use, or of the configuration). */
export class IntegrationError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

const key = (kind: 'connector' | 'action', id: string) => `${kind}:${id}`;

export class Integrations {
  private readonly specs = new Map<string, ConnectorSpec | ActionSpec>();

  constructor(
    private readonly engine: RuleEngine,
    /** `<type>:<name>` → connector; shared with the API's views. */
    private readonly connectors: Map<string, Connector>,
    /** `<type>:<name>` → action; shared with the API's views and the engine (its `actions`). */
    private readonly sinks: Map<string, Sink<unknown>>,
    private readonly actions: Map<string, RuleAction>,
    private readonly table: RecordTable | undefined,
    private readonly logger: Logger,
  ) {}

  /** Builds those saved through the API (connectors first); one that fails is logged and left out. */
  loadSaved(): void {
    const saved = [...(this.table?.entries() ?? [])].sort(([a], [b]) => (a.startsWith('connector:') === b.startsWith('connector:') ? 0 : a.startsWith('connector:') ? -1 : 1));
    for (const [k, text] of saved) {
      try {
        const spec = JSON.parse(text) as ConnectorSpec | ActionSpec;
        if (k.startsWith('connector:')) this.putConnector(spec as ConnectorSpec, false);
        else this.putAction(spec as ActionSpec, false);
      } catch (err) {
        this.logger.error({ id: k, err: (err as Error).message }, 'A connector or action saved through the API could not be built; it is not running');
      }
    }
  }

  /** Those made through the API, as the table copies them (connectors first). */
  entries(): [string, ConnectorSpec | ActionSpec][] {
    return [...this.specs.entries()].sort(([a], [b]) => (a.startsWith('connector:') === b.startsWith('connector:') ? a.localeCompare(b) : a.startsWith('connector:') ? -1 : 1));
  }

  get(k: string): ConnectorSpec | ActionSpec | undefined {
    return this.specs.get(k);
  }

  isApiMade(kind: 'connector' | 'action', id: string): boolean {
    return this.specs.has(key(kind, id));
  }

  /** Defined in the configuration (read-only here). */
  inConfig(kind: 'connector' | 'action', id: string): boolean {
    return !this.specs.has(key(kind, id)) && (kind === 'connector' ? this.connectors.has(id) : this.sinks.has(id));
  }

  /** Adds or replaces a connector (and rebuilds the actions on it). Throws IntegrationError. */
  putConnector(spec: ConnectorSpec, save = true): void {
    const id = `${spec.type}:${spec.name}`;
    if (this.connectors.has(id) && !this.specs.has(key('connector', id)))
      throw new IntegrationError(409, `connector ${id} is defined in the configuration (connectors.${spec.type}.${spec.name})`);
    const c = this.makeConnector(spec);
    const old = this.connectors.get(id);
    this.connectors.set(id, c);
    this.specs.set(key('connector', id), spec);
    if (save) this.table?.put(key('connector', id), JSON.stringify(spec));
    void c.probe();
    // actions on the old connector move to the new one
    for (const [aid, s] of [...this.specs.entries()]) {
      if (!aid.startsWith('action:')) continue;
      const a = s as ActionSpec;
      if (`${a.type}:${a.connector}` === id) this.putAction(a, false);
    }
    if (old) void old.close().catch(() => undefined);
    this.logger.info({ connector: id }, 'Connector put through the API');
  }

  deleteConnector(id: string): boolean {
    if (!this.specs.has(key('connector', id))) {
      if (this.connectors.has(id)) throw new IntegrationError(409, `connector ${id} is defined in the configuration`);
      return false;
    }
    const users = [...this.sinks.values()].filter((s) => s.connector === this.connectors.get(id)).map((s) => s.id);
    if (users.length > 0) throw new IntegrationError(409, `connector ${id} is used by ${users.join(', ')}: delete or change those first`);
    const c = this.connectors.get(id);
    this.connectors.delete(id);
    this.specs.delete(key('connector', id));
    this.table?.delete(key('connector', id));
    if (c) void c.close().catch(() => undefined);
    return true;
  }

  /** Adds or replaces an action (and re-puts the rules that use it). Throws IntegrationError. */
  putAction(spec: ActionSpec, save = true): void {
    const id = `${spec.type}:${spec.name}`;
    if (this.sinks.has(id) && !this.specs.has(key('action', id)))
      throw new IntegrationError(409, `action ${id} is defined in the configuration (actions.${spec.type}.${spec.name})`);
    const conn = this.connectors.get(`${spec.type}:${spec.connector}`);
    if (!conn) throw new IntegrationError(400, `connector: no ${spec.type} connector ${spec.connector}`);
    const sink = this.makeSink(id, spec, conn);
    const old = this.sinks.get(id);
    this.sinks.set(id, sink);
    this.actions.set(id, sink);
    this.specs.set(key('action', id), spec);
    if (save) this.table?.put(key('action', id), JSON.stringify(spec));
    this.rebuildRulesUsing(id);
    old?.close();
  }

  deleteAction(id: string): boolean {
    if (!this.specs.has(key('action', id))) {
      if (this.sinks.has(id)) throw new IntegrationError(409, `action ${id} is defined in the configuration`);
      return false;
    }
    const rules = this.rulesUsing(id);
    if (rules.length > 0) throw new IntegrationError(409, `action ${id} is used by rule ${rules.join(', ')}: change those rules first`);
    const s = this.sinks.get(id);
    this.sinks.delete(id);
    this.actions.delete(id);
    this.specs.delete(key('action', id));
    this.table?.delete(key('action', id));
    s?.close();
    return true;
  }

  private rulesUsing(actionId: string): string[] {
    return this.engine
      .list()
      .filter((r) => r.actions.some((a) => a === actionId))
      .map((r) => r.id);
  }

  /** Rules hold the action objects they were compiled with: compile them again on the new one. */
  private rebuildRulesUsing(actionId: string): void {
    for (const r of this.engine.list()) {
      if (!r.actions.some((a) => a === actionId)) continue;
      this.engine.put({ id: r.id, sql: r.sql, actions: r.actions, enable: r.enable, description: r.description }, r.source);
    }
  }

  private makeConnector(s: ConnectorSpec): Connector {
    return asIntegrationError(() => buildConnector(s, this.logger));
  }

  private makeSink(id: string, s: ActionSpec, conn: Connector): Sink<unknown> {
    return asIntegrationError(() => buildSink(id, s, conn, this.logger));
  }
}

function asIntegrationError<T>(build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof SpecError) throw new IntegrationError(400, `${err.field}: ${err.message}`);
    throw err;
  }
}
