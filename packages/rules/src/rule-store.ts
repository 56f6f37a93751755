/**
 * Rules made through the API, kept in the node's record table `rules` (the store's database)
 * so that they survive a restart, over the rules of the configuration: a rule the API
 * changed keeps the API's version. A rule of the configuration cannot be deleted through
 * the API (it would come back at the next start); it can be disabled.
 */
import type { RecordTable } from '@vireo/broker';
import type { Logger } from 'pino';
import { RuleError, type RuleEngine, type RuleInfo, type RuleSpec } from './engine.js';

export class ConfigRuleError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Is `v` a rule as the API and the table carry it? */
export function isRuleSpec(v: unknown): v is RuleSpec {
  return isObject(v) && typeof v.id === 'string' && typeof v.sql === 'string' && Array.isArray(v.actions) && typeof v.enable === 'boolean' && typeof v.description === 'string';
}

export class RuleStore {
  constructor(
    readonly engine: RuleEngine,
    private readonly table: RecordTable | undefined,
    /** Ids of the rules in the configuration. */
    private readonly configIds: ReadonlySet<string>,
    private readonly logger: Logger,
  ) {}

  /** Puts back the rules saved by the API; one that no longer compiles (an action gone from the config) is logged and left out. */
  loadSaved(): void {
    for (const [id, text] of this.table?.entries() ?? []) {
      try {
        const spec: unknown = JSON.parse(text);
        if (!isRuleSpec(spec)) throw new Error('not a rule');
        this.engine.put(spec, 'api');
      } catch (err) {
        this.logger.error({ rule_id: id, err: (err as Error).message }, 'A rule saved through the API could not be loaded; it is not running');
      }
    }
  }

  /** Adds or replaces a rule here (throws RuleError). */
  put(spec: RuleSpec): RuleInfo {
    const info = this.engine.put(spec, 'api');
    this.table?.put(spec.id, JSON.stringify(spec));
    return info;
  }

  /** Removes a rule here; false when there was none. Throws ConfigRuleError for a rule of the configuration. */
  delete(id: string): boolean {
    if (this.configIds.has(id)) throw new ConfigRuleError(`rule ${id} is defined in the configuration (rule_engine.rules.${id}); disable it instead (enable: false)`);
    this.table?.delete(id);
    return this.engine.delete(id);
  }

  /** The rule as the API shows and other nodes copy it. */
  spec(id: string): RuleSpec | undefined {
    const info = this.engine.get(id);
    return info && { id: info.id, sql: info.sql, actions: info.actions, enable: info.enable, description: info.description };
  }

  isConfigRule(id: string): boolean {
    return this.configIds.has(id);
  }
}

export { RuleError };
