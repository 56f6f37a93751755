/**
 * `republish`: publishes the rule's output on this node, topic, payload, QoS and retain
 * rendered from `${field}` templates (EMQX's defaults: the original payload, QoS and retain
 * flag). The engine keeps a rule from seeing its own republished messages, so `FROM "t/#"`
 * republishing to `t/x` cannot loop.
 */
import type { Broker } from '@vireo/broker';
import { topicNameError } from '@vireo/mqtt';
import type { Logger } from 'pino';
import type { Output } from '../sql/compile.js';
import { compileTemplate, isWhole, lookup, renderText, textOf, type Template } from '../template.js';
import type { RepublishArgs, RuleAction, RuleMetrics } from './action.js';

export class RepublishAction implements RuleAction {
  readonly id = 'republish';
  private readonly topic: Template;
  private readonly payload: Template;
  private readonly qos: Template;
  private readonly retain: Template;
  private readonly userProps: Template | undefined;

  constructor(
    private readonly broker: Broker,
    args: RepublishArgs,
    private readonly logger: Logger,
    /** Called around the publish so the engine can skip this rule for its own message. */
    private readonly publishing: (ruleId: string | undefined) => void,
  ) {
    this.topic = compileTemplate(args.topic);
    this.payload = compileTemplate(args.payload);
    this.qos = compileTemplate(args.qos);
    this.retain = compileTemplate(args.retain);
    this.userProps = args.user_properties ? compileTemplate(args.user_properties) : undefined;
  }

  send(out: Output, metrics: RuleMetrics, ruleId: string): void {
    const topic = renderText(this.topic, out);
    const problem = topicNameError(topic);
    if (problem) {
      metrics['actions.failed']++;
      this.logger.warn({ rule_id: ruleId, topic, reason: problem }, 'Republish skipped: the rendered topic is not a valid topic name');
      return;
    }
    const qosText = renderText(this.qos, out);
    const qos = qosText === '1' ? 1 : qosText === '2' ? 2 : 0;
    const retainText = renderText(this.retain, out).toLowerCase();
    const userProperties = this.userProps ? userPropsOf(isWhole(this.userProps) ? lookup(out, this.userProps.paths[0]!) : renderText(this.userProps, out)) : undefined;
    this.publishing(ruleId);
    try {
      this.broker.publishMessage({
        topic,
        payload: Buffer.from(renderText(this.payload, out)),
        qos,
        retain: retainText === 'true' || retainText === '1',
        ...(userProperties ? { properties: { userProperties } } : {}),
      });
      metrics['actions.success']++;
    } catch (err) {
      metrics['actions.failed']++;
      this.logger.warn({ rule_id: ruleId, topic, err: (err as Error).message }, 'Republish failed');
    } finally {
      this.publishing(undefined);
    }
  }
}

/** A map of strings (or a JSON text of one) as MQTT 5 user properties. */
function userPropsOf(v: unknown): Record<string, string> | undefined {
  let m = v;
  if (typeof m === 'string') {
    try {
      m = JSON.parse(m) as unknown;
    } catch {
      return undefined;
    }
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(m)) out[k] = textOf(val);
  return out;
}
