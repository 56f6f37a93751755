/**
 * One rule's SQL, checked and compiled: the topic filters and events its FROM names, and
 * the function that evaluates an event. Anything wrong (syntax, an unknown function or
 * event, a bad topic filter) is a RuleSqlError naming the line and column.
 */
import { topicFilterError } from '@vireo/mqtt';
import { EVENT_TOPICS, isEventTopic, type EventName } from './events.js';
import { compileSelect, type CompiledSelect, type EventContext, type Output } from './sql/compile.js';
import { RuleSqlError } from './sql/lexer.js';
import { parseRuleSql } from './sql/parser.js';

export interface CompiledSql {
  readonly sql: string;
  /** MQTT topic filters of FROM (message.publish). */
  readonly topics: readonly string[];
  /** `$events/…` of FROM, as event names. */
  readonly events: readonly EventName[];
  /** The rule's output for an event, or undefined when WHERE is not true. Throws RuleEvalError. */
  run(ctx: EventContext): Output | undefined;
}

export function compileRuleSql(sql: string): CompiledSql {
  const stmt = parseRuleSql(sql);
  const topics: string[] = [];
  const events: EventName[] = [];
  for (const item of stmt.from) {
    if (item.topic.startsWith('$events/')) {
      if (!isEventTopic(item.topic)) {
        throw new RuleSqlError(`unknown event "${item.topic}" (known: ${Object.keys(EVENT_TOPICS).join(', ')})`, item.pos.line, item.pos.column);
      }
      events.push(EVENT_TOPICS[item.topic]);
      continue;
    }
    const problem = topicFilterError(item.topic);
    if (problem) throw new RuleSqlError(`"${item.topic}" is not a valid topic filter: ${problem}`, item.pos.line, item.pos.column);
    topics.push(item.topic);
  }
  const select: CompiledSelect = compileSelect(stmt);
  return { sql, topics, events, run: (ctx) => select.run(ctx) };
}
