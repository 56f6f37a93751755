/**
 * `overload_protection`: EMQX's keys (`enable`, `backoff_delay`, `backoff_gc`,
 * `backoff_hibernation`, `backoff_new_conn`) and defaults, with Vireo's thresholds (a Node.js
 * node has no Erlang run queue to watch; it has an event loop and a V8 heap). docs/limits.md.
 */
import { bool, bytesize, duration, int, str, type SchemaNode } from '../schema-dsl.js';
import { parsePercent } from './sysmon.js';

const percentOrDisabled = (def: string, description: string) =>
  str({
    default: def,
    description,
    check: (v) => (v === 'disabled' || parsePercent(v) !== undefined ? undefined : 'a percentage from 0% to 100%, like 95%, or disabled'),
  });

export const overloadSchema = {
  enable: bool({
    default: false,
    description:
      'Overload protection: while the node is overloaded (a threshold below is passed), it backs off: new connections are refused or delayed, QoS 0 to slow subscribers is shed, and the `overload` alarm is raised. Off by default, as in EMQX.',
  }),
  backoff_new_conn: bool({
    default: true,
    description: 'While overloaded, refuse new CONNECTs with CONNACK 0x89 Server busy (MQTT 3.1.1: 3 Server unavailable). `false`: handle them after `backoff_delay` instead.',
  }),
  backoff_delay: duration({
    default: 1,
    min: 0,
    max: 60_000,
    description:
      "While overloaded and `backoff_new_conn` is `false`, how long each new CONNECT waits before it is handled. EMQX's default (1ms); raise it to slow a connection storm down.",
  }),
  backoff_gc: bool({ default: false, description: 'Accepted for EMQX compatibility; no effect: V8 garbage collection cannot be put off per client in Node.js.' }),
  backoff_hibernation: bool({ default: true, description: 'Accepted for EMQX compatibility; no effect: a Node.js connection has no process to hibernate.' }),
  check_interval: duration({
    default: 1000,
    min: 10,
    max: 60_000,
    description:
      'How often the event loop and the heap are sampled. A check that finds a threshold passed starts the overload; `recover_checks` checks in a row that find none passed end it.',
  }),
  recover_checks: int({
    default: 3,
    min: 1,
    max: 1000,
    description:
      'Checks in a row that must find every figure under its threshold before an overload ends (with `check_interval` 1s: 3 calm seconds), so that a storm with calm moments does not switch the protection on and off at each check. 1: the first calm check ends it.',
  }),
  event_loop_utilization: percentOrDisabled(
    '98%',
    'Share of the last check interval the event loop was busy (Node.js event-loop utilization, `vireo_event_loop_utilization`) at or above which the node is overloaded. `disabled`: not checked.',
  ),
  event_loop_lag: duration({
    default: 500,
    min: 1,
    max: 2 ** 31 - 1,
    keywords: { disabled: 0 },
    description: 'Longest event-loop delay within the last check interval at or above which the node is overloaded. `disabled`: not checked.',
  }),
  heap_usage: percentOrDisabled('90%', 'V8 heap in use, as a share of its limit, at or above which the node is overloaded. `disabled`: not checked.'),
  shed_qos0_backlog: bytesize({
    default: 64 * 1024,
    min: 0,
    max: 2 ** 31 - 1,
    description:
      'While overloaded, QoS 0 messages to a client with more than this many bytes waiting for its socket are dropped (counted as `vireo_overload_shed_messages`); otherwise the limit is 1MB.',
  }),
} as const satisfies SchemaNode;
