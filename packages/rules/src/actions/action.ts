/**
 * What a rule hands its output to, and how a rule names it: `pgsql:store_temp` (an action
 * of `actions.<type>.<name>`), or inline as EMQX writes it: `{function: republish, args:
 * {...}}`, `{function: console}`.
 */
import type { Output } from '../sql/compile.js';

/** Counters of one rule; actions add their outcome when they know it (a database write may finish later). */
export interface RuleMetrics {
  matched: number;
  passed: number;
  failed: number;
  'failed.exception': number;
  'failed.no_result': number;
  'actions.total': number;
  'actions.success': number;
  'actions.failed': number;
}

export const newRuleMetrics = (): RuleMetrics => ({
  matched: 0,
  passed: 0,
  failed: 0,
  'failed.exception': 0,
  'failed.no_result': 0,
  'actions.total': 0,
  'actions.success': 0,
  'actions.failed': 0,
});

export type ActionStatus = 'connected' | 'connecting' | 'disconnected';

/** One place a rule's output goes. `send` returns at once: whatever it waits for, it waits for elsewhere. */
export interface RuleAction {
  /** `republish`, `console`, or `<type>:<name>`. */
  readonly id: string;
  send(out: Output, metrics: RuleMetrics, ruleId: string): void;
}

export interface RepublishArgs {
  topic: string;
  payload: string;
  qos: string;
  retain: string;
  user_properties: string;
}

export type ActionRef = string | { function: 'republish'; args: RepublishArgs } | { function: 'console' };

const SINK_TYPES = ['pgsql', 'redis', 'http'] as const;
export type SinkType = (typeof SINK_TYPES)[number];

/** EMQX 5's defaults: the message's own QoS, retain flag and payload. */
export const REPUBLISH_DEFAULTS: Omit<RepublishArgs, 'topic'> = { payload: '${payload}', qos: '${qos}', retain: '${flags.retain}', user_properties: '' };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks one item of a rule's `actions` (from the config or the API); the message says what is wrong. */
export function parseActionRef(raw: unknown): { ref: ActionRef } | { error: string } {
  if (typeof raw === 'string') {
    const [type, name, extra] = raw.split(':');
    if (extra !== undefined || !name || !(SINK_TYPES as readonly string[]).includes(type!)) {
      return { error: `expected "<type>:<name>" with type one of ${SINK_TYPES.join(', ')} (e.g. "pgsql:store_temp"), got ${JSON.stringify(raw)}` };
    }
    return { ref: raw };
  }
  if (!isObject(raw)) return { error: `expected "<type>:<name>" or {function: republish, args: {...}}, got ${JSON.stringify(raw)}` };
  if (raw.function === 'console') return { ref: { function: 'console' } };
  if (raw.function !== 'republish') return { error: `unknown function ${JSON.stringify(raw.function)} (republish or console)` };
  const args = raw.args;
  if (!isObject(args) || typeof args.topic !== 'string' || args.topic === '') return { error: 'republish needs args.topic (a template such as "alerts/${clientid}")' };
  const out: RepublishArgs = { ...REPUBLISH_DEFAULTS, topic: args.topic };
  for (const key of ['payload', 'qos', 'retain', 'user_properties'] as const) {
    const v = args[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return { error: `republish args.${key}: expected a template string, got ${JSON.stringify(v)}` };
    out[key] = String(v);
  }
  for (const key of Object.keys(args)) {
    if (!['topic', 'payload', 'qos', 'retain', 'user_properties', 'mqtt_properties'].includes(key)) return { error: `republish args: unknown key ${key}` };
  }
  return { ref: { function: 'republish', args: out } };
}

export function actionRefName(ref: ActionRef): string {
  return typeof ref === 'string' ? ref : ref.function;
}
