/**
 * Starts the MQTT bridges of `bridges.mqtt.<name>`. Everything that can be wrong with one
 * (no server, no direction, a bad template or filter, an unreadable certificate) stops
 * start-up naming the key, before any bridge connects.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { compileTemplate, MqttBridge, type BridgeTemplates, type MqttBridgeOptions } from '@vireo/bridge';
import type { Broker } from '@vireo/broker';
import { topicFilterError } from '@vireo/mqtt';
import { ConfigError } from './config-error.js';
import type { VireoConfig } from './config-schema.js';
import type { ConfigIssue } from './config-validate.js';

type BridgeConfig = VireoConfig['bridges']['mqtt'][string];
type TemplatesConfig = { topic: string; qos: string; retain: string; payload: string };

const PROTO = { v3: 3, v4: 4, v5: 5 } as const;

export function startBridgesFor(config: VireoConfig, broker: Broker, logger: Logger): MqttBridge[] {
  const issues: ConfigIssue[] = [];
  const options: MqttBridgeOptions[] = [];
  for (const [name, b] of Object.entries(config.bridges.mqtt)) {
    if (!b.enable) continue;
    const o = bridgeOptions(`bridges.mqtt.${name}`, name, b, config.node.name, config.node.data_dir, issues);
    if (o) options.push(o);
  }
  if (issues.length) throw new ConfigError(issues);
  return options.map((o) => {
    const bridge = new MqttBridge(broker, o, logger);
    bridge.start();
    logger.info({ bridge: o.name, server: o.server, ingress: o.ingress?.remoteTopic, egress: o.egress?.localTopic }, 'Bridge started');
    return bridge;
  });
}

function bridgeOptions(at: string, name: string, b: BridgeConfig, node: string, dataDir: string, issues: ConfigIssue[]): MqttBridgeOptions | undefined {
  const before = issues.length;
  if (b.server === '') issues.push({ path: `${at}.server`, message: 'required: the remote broker as host:port' });
  const ingressTopic = b.ingress.remote.topic;
  const egressTopic = b.egress.local.topic;
  if (ingressTopic === '' && egressTopic === '') {
    issues.push({ path: at, message: 'needs ingress.remote.topic or egress.local.topic (or both)' });
  }
  const filter = (path: string, f: string) => {
    const problem = f === '' ? undefined : topicFilterError(f);
    if (problem) issues.push({ path, message: `not a valid topic filter: ${problem}` });
  };
  filter(`${at}.ingress.remote.topic`, ingressTopic);
  filter(`${at}.egress.local.topic`, egressTopic);
  const ingressLocal = ingressTopic === '' ? undefined : templates(`${at}.ingress.local`, b.ingress.local, issues);
  const egressRemote = egressTopic === '' ? undefined : templates(`${at}.egress.remote`, b.egress.remote, issues);
  const tls = b.ssl.enable ? tlsOptions(`${at}.ssl`, b.ssl, issues) : undefined;
  if (issues.length > before) return undefined;
  return {
    name,
    server: b.server,
    protocolVersion: PROTO[b.proto_ver],
    clientId: `${b.clientid_prefix}${name}:${node}`,
    // one client id for the ingress whichever node runs it: the remote's session follows it
    ...(ingressTopic !== '' ? { ingressClientId: `${b.clientid_prefix}${name}:ingress` } : {}),
    username: b.username,
    password: b.password,
    clean: b.clean_start,
    keepalive: b.keepalive,
    reconnectInterval: b.reconnect_interval,
    maxInflight: b.max_inflight,
    maxBufferBytes: b.resource_opts.max_buffer_bytes,
    ...(b.resource_opts.buffer_on_disk ? { bufferDir: join(dataDir, 'bridges') } : {}),
    ...(tls ? { tls } : {}),
    ...(ingressLocal ? { ingress: { remoteTopic: ingressTopic, remoteQos: b.ingress.remote.qos as 0 | 1 | 2, local: ingressLocal } } : {}),
    ...(egressRemote ? { egress: { localTopic: egressTopic, remote: egressRemote } } : {}),
  };
}

function templates(at: string, t: TemplatesConfig, issues: ConfigIssue[]): BridgeTemplates | undefined {
  const out: Partial<BridgeTemplates> = {};
  for (const key of ['topic', 'qos', 'retain', 'payload'] as const) {
    try {
      out[key] = compileTemplate(t[key]);
    } catch (err) {
      issues.push({ path: `${at}.${key}`, message: err instanceof Error ? err.message : String(err) });
    }
  }
  return out.topic && out.qos && out.retain && out.payload ? (out as BridgeTemplates) : undefined;
}

function tlsOptions(at: string, ssl: BridgeConfig['ssl'], issues: ConfigIssue[]): MqttBridgeOptions['tls'] {
  const read = (key: 'cacertfile' | 'certfile' | 'keyfile'): Buffer | undefined => {
    const file = ssl[key];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      issues.push({ path: `${at}.${key}`, message: `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
      return undefined;
    }
  };
  const ca = read('cacertfile');
  const cert = read('certfile');
  const key = read('keyfile');
  if ((cert === undefined) !== (key === undefined) && (ssl.certfile !== undefined) !== (ssl.keyfile !== undefined)) {
    issues.push({ path: `${at}.${ssl.certfile === undefined ? 'certfile' : 'keyfile'}`, message: 'certfile and keyfile go together' });
  }
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    rejectUnauthorized: ssl.verify === 'verify_peer',
    ...(ssl.server_name_indication !== undefined ? { servername: ssl.server_name_indication } : {}),
  };
}
