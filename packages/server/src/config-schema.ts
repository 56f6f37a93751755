/**
 * Every configuration key Vireo knows, with its type, default and meaning: one file
 * per top-level section in config-schema/, composed here.
 *
 * Key names follow EMQX 5 so an EMQX user's habits carry over, every key has a
 * default, and every key can be set from the environment (`VIREO_` + path
 * upper-cased, `__` per dot). The validator, the `VireoConfig` type and
 * docs/configuration.md are all derived from this tree; adding a key to its section
 * file is the whole job (then run `npm run docs:config`). See docs/architecture.md.
 *
 * Keys of features that are not built yet are declared too, so that deployments
 * written against the contract (k8s manifests, compose files) validate today.
 */
import type { ConfigOf, SchemaNode } from './schema-dsl.js';
import { nodeSchema } from './config-schema/node.js';
import { durableStorageSchema } from './config-schema/durable-storage.js';
import { listenersSchema } from './config-schema/listeners.js';
import { mqttSchema } from './config-schema/mqtt.js';
import { retainerSchema } from './config-schema/retainer.js';
import { sysTopicsSchema } from './config-schema/sys-topics.js';
import { dashboardSchema } from './config-schema/dashboard.js';
import { clusterSchema } from './config-schema/cluster.js';
import { authenticationSchema } from './config-schema/authentication.js';
import { authorizationSchema } from './config-schema/authorization.js';
import { apiKeySchema } from './config-schema/api-key.js';
import { prometheusSchema } from './config-schema/prometheus.js';
import { webhookSchema } from './config-schema/webhook.js';
import { logSchema } from './config-schema/log.js';
import { bridgesSchema } from './config-schema/bridges.js';
import { actionsSchema, connectorsSchema, ruleEngineSchema } from './config-schema/rule-engine.js';
import { sysmonSchema } from './config-schema/sysmon.js';
import { alarmSchema } from './config-schema/alarm.js';
import { overloadSchema } from './config-schema/overload.js';
import { forceShutdownSchema } from './config-schema/force-shutdown.js';
import { flappingSchema } from './config-schema/flapping.js';

export { WEBHOOK_EVENT_NAMES } from './config-schema/webhook.js';

export const configSchema = {
  node: nodeSchema,
  durable_storage: durableStorageSchema,
  listeners: listenersSchema,
  mqtt: mqttSchema,
  retainer: retainerSchema,
  sys_topics: sysTopicsSchema,
  dashboard: dashboardSchema,
  cluster: clusterSchema,
  authentication: authenticationSchema,
  authorization: authorizationSchema,
  api_key: apiKeySchema,
  prometheus: prometheusSchema,
  webhook: webhookSchema,
  bridges: bridgesSchema,
  rule_engine: ruleEngineSchema,
  connectors: connectorsSchema,
  actions: actionsSchema,
  log: logSchema,
  sysmon: sysmonSchema,
  alarm: alarmSchema,
  overload_protection: overloadSchema,
  force_shutdown: forceShutdownSchema,
  flapping_detect: flappingSchema,
} as const satisfies SchemaNode;

/** The loaded, validated configuration: durations in ms, sizes in bytes, binds parsed. */
export type VireoConfig = ConfigOf<typeof configSchema>;
