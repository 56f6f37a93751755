/**
 * What the HTTP API needs of the node's rule engine, and the rules made through the API as
 * a table every node keeps the same (record-sync.ts): a rule created on one node runs on
 * every node (each evaluates the messages published on it). Rules of the configuration are
 * each node's own and are not copied.
 */
import type { Connector, RuleSpec, RuleStore, SinkStats, ActionStatus, Integrations } from '@vireo/rules';
import { isRuleSpec } from '@vireo/rules';
import type { SyncedTable } from './record-sync.js';

/** One action (sink) as its node runs it (`Sink` of @vireo/rules, structurally). */
export interface SinkSource {
  readonly id: string;
  readonly status: ActionStatus;
  readonly error: string | undefined;
  readonly stats: SinkStats;
  readonly connector: Connector;
}

/** The node's rule engine, its actions and connectors. */
export interface RulesApi {
  store: RuleStore;
  sinks: ReadonlyMap<string, SinkSource>;
  connectors: ReadonlyMap<string, Connector>;
  /** Connectors and actions made through the API (absent: the API only reads them). */
  integrations?: Integrations;
}

/** Rules made through the API; `put` from a peer may throw (an action this node lacks): the peer logs it. */
export function rulesTable(rules: RulesApi): SyncedTable<RuleSpec> {
  const { store } = rules;
  return {
    name: 'rules',
    entries: () =>
      store.engine
        .list()
        .filter((r) => r.source === 'api')
        .map((r) => [r.id, store.spec(r.id)!]),
    get: (id) => (store.engine.get(id)?.source === 'api' ? store.spec(id) : undefined),
    put: (_id, spec) => void store.put(spec),
    delete: (id) => (store.engine.get(id)?.source === 'api' ? store.delete(id) : false),
    valid: (v): v is RuleSpec => isRuleSpec(v),
  };
}
