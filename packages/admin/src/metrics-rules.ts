/** `vireo_rule_*`, `vireo_action_*`, `vireo_connector_connected`: the rule engine's counters, read at scrape time. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RuleMetrics } from '@vireo/rules';
import type { RulesApi } from './rules-table.js';

export function registerRuleMetrics(register: Registry, rules: RulesApi): void {
  const ruleCounter = (name: string, help: string, key: keyof RuleMetrics) =>
    new Counter({
      name,
      help,
      labelNames: ['rule'],
      registers: [register],
      collect() {
        this.reset();
        for (const r of rules.store.engine.list()) this.inc({ rule: r.id }, r.metrics[key]);
      },
    });
  ruleCounter('vireo_rule_matched', "Messages and events a rule's FROM matched.", 'matched');
  ruleCounter('vireo_rule_passed', 'Evaluations that produced an output (WHERE true).', 'passed');
  ruleCounter('vireo_rule_failed', 'Evaluations that raised an error (a bad value for a function or an operator).', 'failed');
  ruleCounter('vireo_rule_failed_no_result', 'Evaluations whose WHERE was not true.', 'failed.no_result');
  ruleCounter('vireo_rule_actions_total', "Outputs handed to the rule's actions.", 'actions.total');
  ruleCounter('vireo_rule_actions_success', 'Outputs an action completed (published, written, answered).', 'actions.success');
  ruleCounter('vireo_rule_actions_failed', 'Outputs an action failed or dropped (buffer full, refused by the database).', 'actions.failed');

  const sinkCounter = (name: string, help: string, key: 'success' | 'failed' | 'dropped' | 'retried') =>
    new Counter({
      name,
      help,
      labelNames: ['action'],
      registers: [register],
      collect() {
        this.reset();
        for (const s of rules.sinks.values()) this.inc({ action: s.id }, s.stats[key]);
      },
    });
  sinkCounter('vireo_action_success', 'Outputs an action wrote.', 'success');
  sinkCounter('vireo_action_failed', 'Outputs an action could not write (refused, or could not be rendered).', 'failed');
  sinkCounter('vireo_action_dropped', "Outputs dropped because the action's buffer was full (resource_opts.max_buffer_bytes).", 'dropped');
  sinkCounter('vireo_action_retried', 'Batches written again after a failure.', 'retried');
  const gauge = (name: string, help: string, label: string, read: () => [string, number][]) =>
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [register],
      collect() {
        this.reset();
        for (const [id, v] of read()) this.set({ [label]: id }, v);
      },
    });
  gauge('vireo_action_queuing', "Outputs waiting in an action's buffer.", 'action', () => [...rules.sinks.values()].map((s) => [s.id, s.stats.queued]));
  gauge('vireo_action_queuing_bytes', "Bytes waiting in an action's buffer.", 'action', () => [...rules.sinks.values()].map((s) => [s.id, s.stats.queuedBytes]));
  gauge('vireo_connector_connected', "1 while the connector's database answers, else 0.", 'connector', () =>
    [...rules.connectors.entries()].map(([id, c]) => [id, c.status === 'connected' ? 1 : 0]),
  );
}
