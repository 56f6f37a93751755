/**
 * `vireo ctl rules list|show ID` (EMQX's `emqx ctl rules …`), over the HTTP API's
 * `/api/v5/rules` endpoints.
 */
import { record, table } from './ctl-format.js';

export const RULES_USAGE = `  rules list                           Rules with their FROM, actions and counters
  rules show ID                        One rule: SQL, actions, counters over the cluster
`;

type Call = (method: string, path: string, body?: unknown) => Promise<unknown>;
type Out = (data: unknown, text: () => string) => string;

interface Rule {
  id: string;
  sql: string;
  enable: boolean;
  from: string[];
  actions: unknown[];
  source: string;
  description: string;
  metrics?: Record<string, number>;
}

/** A usage mistake (exit 2). */
export class RulesUsageError extends Error {}

const actionName = (a: unknown) => (typeof a === 'string' ? a : typeof a === 'object' && a !== null ? String((a as { function?: unknown }).function) : String(a));

/** Runs the command when it is a `rules` one; undefined when it is not. */
export function rulesCommand(p: string[], call: Call, out: Out): Promise<string> | undefined {
  if (p[0] !== 'rules') return undefined;
  const [, sub, id] = p;
  return (async () => {
    switch (sub) {
      case 'list': {
        const rules: Rule[] = [];
        for (let page = 1; ; page++) {
          const r = (await call('GET', `/api/v5/rules?limit=10000&page=${page}`)) as { data: Rule[]; meta: { hasnext: boolean } };
          rules.push(...r.data);
          if (!r.meta.hasnext) break;
        }
        // counters over the cluster, one call per rule (rules are few)
        const rows = await Promise.all(
          rules.map(async (r) => {
            const m = ((await call('GET', `/api/v5/rules/${encodeURIComponent(r.id)}/metrics`)) as { metrics: Record<string, number> }).metrics;
            return {
              id: r.id,
              enable: r.enable,
              source: r.source,
              from: r.from.join(','),
              actions: r.actions.map(actionName).join(','),
              matched: m.matched,
              passed: m.passed,
              failed: m.failed,
              'actions.failed': m['actions.failed'],
            };
          }),
        );
        return out(rows, () => table(rows, ['id', 'enable', 'source', 'from', 'actions', 'matched', 'passed', 'failed', 'actions.failed']));
      }
      case 'show': {
        if (id === undefined) throw new RulesUsageError('rules show needs the rule ID');
        const r = (await call('GET', `/api/v5/rules/${encodeURIComponent(id)}`)) as Rule;
        return out(r, () =>
          record({ id: r.id, sql: r.sql, enable: r.enable, source: r.source, description: r.description, from: r.from.join(', '), actions: r.actions, ...r.metrics }),
        );
      }
      default:
        throw new RulesUsageError(`unknown command: ${p.join(' ')}`);
    }
  })();
}
