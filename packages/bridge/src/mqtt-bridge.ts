/**
 * One MQTT bridge (EMQX's MQTT data bridge): a client connection from this node to another
 * broker. Egress sends messages published on this node that match a local filter to the
 * remote broker; ingress subscribes there and publishes what arrives here. Topic, QoS,
 * retain and payload go through `${field}` templates.
 *
 * Egress never slows local delivery: matching messages wait in a queue bounded in bytes
 * while the remote broker is away or slow (past the bound they are dropped and counted),
 * at most `maxInflight` are unacknowledged at a time, and MQTT.js resends unacknowledged
 * QoS 1/2 messages after a reconnection. Messages the ingress published are never sent
 * back out by the same bridge (no loop), and a v5 ingress subscribes with No Local.
 */
import mqtt, { type IClientOptions, type IClientPublishOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { topicMatches } from '@vireo/mqtt';
import { newMessageId, type Broker, type Message, type MessageProperties } from '@vireo/broker';
import { renderPayload, renderQos, renderRetain, renderText, type Template, type TemplateFields } from './bridge-template.js';
import { ingressOwner } from './ingress-owner.js';
import { DiskBuffer, type DiskPlace } from './disk-buffer.js';

export interface BridgeTemplates {
  topic: Template;
  qos: Template;
  retain: Template;
  payload: Template;
}

export interface MqttBridgeOptions {
  name: string;
  /** `host:port` of the remote broker. */
  server: string;
  protocolVersion: 3 | 4 | 5;
  clientId: string;
  username: string | undefined;
  password: string | undefined;
  clean: boolean;
  /** ms */
  keepalive: number;
  /** ms */
  reconnectInterval: number;
  maxInflight: number;
  maxBufferBytes: number;
  /** TLS when set. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean; servername?: string };
  ingress?: { remoteTopic: string; remoteQos: 0 | 1 | 2; local: BridgeTemplates };
  egress?: { localTopic: string; remote: BridgeTemplates };
  /**
   * Set (the same on every node): ingress runs on its own connection with this client id, on
   * one node of the cluster at a time (ingress-owner.ts), and moves when that node goes. With
   * `clean: false` the remote broker keeps the session meanwhile and redelivers to the new
   * owner. Unset: ingress shares the node's connection, on every node.
   */
  ingressClientId?: string;
  /** Keep the egress buffer in this directory (disk-buffer.ts): what was accepted survives a crash or restart. */
  bufferDir?: string;
}

/** `standby`: an ingress-only bridge on a node that does not own its ingress now. */
export type BridgeStatus = 'connecting' | 'connected' | 'disconnected' | 'stopped' | 'standby';

export interface MqttBridgeStats {
  status: BridgeStatus;
  /** Egress: local messages that matched the filter. */
  matched: number;
  /** Egress: acknowledged by the remote broker (QoS 1/2) or written (QoS 0). */
  success: number;
  /** Egress: failed (a QoS 0 message whose connection closed before it was written). */
  failed: number;
  /** Egress: dropped because the buffer was full. */
  dropped: number;
  /** Egress: waiting or unacknowledged now. */
  queuing: number;
  inflight: number;
  /** Ingress: messages received from the remote broker and published here. */
  received: number;
}

export interface MqttBridgeInfo {
  type: 'mqtt';
  name: string;
  server: string;
  /** The remote filter ingress subscribes to, when it has ingress. */
  ingress: string | undefined;
  /** The local filter egress takes, when it has egress. */
  egress: string | undefined;
  /** The last connection error while not connected. */
  lastError: string | undefined;
  /** Whether this node runs the ingress now (always, without `ingressClientId`). */
  ingressHere: boolean;
}

interface Outgoing {
  topic: string;
  payload: Buffer;
  opts: IClientPublishOptions;
  size: number;
  /** Where it is in the disk buffer, when there is one. */
  place?: DiskPlace;
}

/** How often a full buffer is logged at most. */
const DROP_LOG_MS = 10_000;

export class MqttBridge {
  /** The `from` of messages this bridge's ingress publishes (what its egress skips). */
  readonly origin: string;
  private client: MqttClient | undefined;
  private status: BridgeStatus = 'connecting';
  private readonly queue: (Outgoing | undefined)[] = [];
  private queueHead = 0;
  private bufferedBytes = 0;
  private inflight = 0;
  private readonly counts = { matched: 0, success: 0, failed: 0, dropped: 0, received: 0 };
  private droppedSinceLog = 0;
  private lastDropLog = 0;
  private lastError: string | undefined;
  /** The ingress's own connection (with `ingressClientId`), while this node owns it. */
  private ingressClient: MqttClient | undefined;
  private ingressStatus: BridgeStatus = 'standby';
  private stopped = false;
  private disk: DiskBuffer | undefined;

  constructor(
    private readonly broker: Broker,
    private readonly options: MqttBridgeOptions,
    private readonly logger: Logger,
  ) {
    this.origin = `$bridges/mqtt:${options.name}`;
  }

  /** An ingress-only bridge in a cluster: ingress on its own connection, one node at a time. */
  private get separateIngress(): boolean {
    return this.options.ingress !== undefined && this.options.ingressClientId !== undefined && !this.options.egress;
  }

  /**
   * Both directions in a cluster: ingress shares the node's connection (so No Local keeps the
   * egress's own messages from coming back), and only the owning node subscribes.
   */
  private get gatedIngress(): boolean {
    return this.options.ingress !== undefined && this.options.ingressClientId !== undefined && this.options.egress !== undefined;
  }

  /** This node runs the ingress now (decided by onNodes when clustered). */
  private owner = false;

  start(): void {
    const o = this.options;
    if (this.separateIngress || this.gatedIngress) {
      this.broker.on('cluster.nodes_changed', this.onNodes);
      this.onNodes(this.broker.cluster.nodes());
      if (!o.egress) return;
    }
    if (o.egress && o.bufferDir) this.openDisk(o.bufferDir);
    const client = this.connectClient(o.clientId, !this.separateIngress);
    this.client = client;
    client.on('connect', () => this.onConnect());
    client.on('close', () => this.onClose());
    client.on('error', (err) => {
      this.lastError = err.message;
      this.logger.warn({ bridge: o.name, server: o.server, err: err.message }, 'Bridge connection error');
    });
    if (o.egress) this.broker.on('message.publish', this.onLocalPublish);
  }

  /** Opens the disk buffer and queues what a previous run accepted and did not get acknowledged. */
  private openDisk(dir: string): void {
    const disk = new DiskBuffer(dir, this.options.name);
    this.disk = disk;
    const backlog = disk.backlog();
    for (const { record, place } of backlog) {
      const size = record.payload.length + record.topic.length;
      this.bufferedBytes += size;
      this.queue.push({ topic: record.topic, payload: record.payload, opts: { qos: record.qos, retain: record.retain }, size, place });
    }
    if (backlog.length) this.logger.info({ bridge: this.options.name, messages: backlog.length }, 'Bridge egress buffer read back from disk');
  }

  /** A connection to the remote broker; with `ingress`, it subscribes and publishes what arrives here. */
  private connectClient(clientId: string, ingress: boolean): MqttClient {
    const o = this.options;
    const clientOptions: IClientOptions = {
      clientId,
      protocolVersion: o.protocolVersion,
      clean: o.clean,
      keepalive: Math.round(o.keepalive / 1000),
      reconnectPeriod: o.reconnectInterval,
      connectTimeout: 10_000,
      resubscribe: true,
      queueQoSZero: false,
      ...(o.protocolVersion === 3 ? { protocolId: 'MQIsdp' as const } : {}),
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.tls ? { ...o.tls } : {}),
    };
    const client = mqtt.connect(`${o.tls ? 'mqtts' : 'mqtt'}://${o.server}`, clientOptions);
    if (ingress && o.ingress) {
      client.on('connect', () => (!this.gatedIngress || this.owner) && this.subscribeIngress(client));
      client.on('message', (topic, payload, packet) => this.onRemoteMessage(topic, payload, packet));
      // MQTT.js acknowledges once this calls back, after 'message' published the message here:
      // with durability: durable, only when what that publish wrote is committed
      const store = this.broker.options.store;
      client.handleMessage = (packet, done) => {
        if (store.durable && packet.cmd === 'publish' && packet.qos > 0) store.afterCommit(() => done(), 0);
        else done();
      };
    }
    return client;
  }

  private subscribeIngress(client: MqttClient): void {
    const o = this.options;
    const ingress = o.ingress!;
    client.subscribe(ingress.remoteTopic, { qos: ingress.remoteQos, ...(o.protocolVersion === 5 ? { nl: true } : {}) }, (err, granted) => {
      const refused = err?.message ?? (granted?.some((g) => g.qos === 128) ? 'the remote broker refused the subscription' : undefined);
      if (refused) this.logger.error({ bridge: o.name, topic: ingress.remoteTopic, err: refused }, 'Bridge ingress subscription failed');
    });
  }

  /** Membership changed: run the ingress here exactly when this node is its owner. */
  private readonly onNodes = (nodes: string[]): void => {
    if (this.stopped) return;
    const here = ingressOwner(this.options.name, nodes) === this.broker.options.nodeName;
    const was = this.owner;
    this.owner = here;
    if (this.gatedIngress) {
      if (here === was) return;
      const o = this.options;
      this.logger.info({ bridge: o.name, server: o.server, topic: o.ingress!.remoteTopic }, here ? 'Bridge ingress runs on this node' : 'Bridge ingress stopped on this node');
      const client = this.client;
      if (client?.connected) {
        if (here) this.subscribeIngress(client);
        else client.unsubscribe(o.ingress!.remoteTopic);
      }
      return;
    }
    if (here && !this.ingressClient) this.startIngress();
    else if (!here && this.ingressClient) void this.stopIngress('another node owns it now');
  };

  private startIngress(): void {
    const o = this.options;
    this.logger.info({ bridge: o.name, server: o.server, clientid: o.ingressClientId, topic: o.ingress!.remoteTopic }, 'Bridge ingress runs on this node');
    const client = this.connectClient(o.ingressClientId!, true);
    this.ingressClient = client;
    this.ingressStatus = 'connecting';
    client.on('connect', () => (this.ingressStatus = 'connected'));
    client.on('close', () => {
      if (this.ingressClient === client) this.ingressStatus = 'disconnected';
    });
    client.on('error', (err) => {
      this.lastError = err.message;
      this.logger.warn({ bridge: o.name, server: o.server, err: err.message }, 'Bridge ingress connection error');
    });
  }

  private stopIngress(why: string): Promise<void> {
    const client = this.ingressClient;
    this.ingressClient = undefined;
    this.ingressStatus = 'standby';
    if (!client) return Promise.resolve();
    this.logger.info({ bridge: this.options.name, reason: why }, 'Bridge ingress stopped on this node');
    // a clean DISCONNECT: the remote keeps the session (clean: false) for the next owner
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => client.end(true, {}, () => resolve()), 2000);
      client.end(false, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** What the API shows of this bridge's configuration. */
  info(): MqttBridgeInfo {
    const o = this.options;
    return {
      type: 'mqtt',
      name: o.name,
      server: o.server,
      ingress: o.ingress?.remoteTopic,
      egress: o.egress?.localTopic,
      lastError: this.lastError,
      ingressHere: o.ingress !== undefined && (this.separateIngress ? this.ingressClient !== undefined : !this.gatedIngress || this.owner),
    };
  }

  stats(): MqttBridgeStats {
    // an ingress-only bridge in a cluster: its ingress connection, or standby where another node runs it
    const status = this.separateIngress && !this.options.egress ? (this.stopped ? 'stopped' : this.ingressStatus) : this.status;
    return { status, ...this.counts, queuing: this.queue.length - this.queueHead + this.inflight, inflight: this.inflight };
  }

  /** Stops: no more egress, the connection closed (waits briefly for unacknowledged messages). */
  async close(): Promise<void> {
    this.stopped = true;
    this.broker.off('message.publish', this.onLocalPublish);
    this.broker.off('cluster.nodes_changed', this.onNodes);
    this.status = 'stopped';
    const ingressClosed = this.stopIngress('stopping');
    const client = this.client;
    const disk = this.disk;
    this.disk = undefined;
    if (!client) {
      disk?.close();
      return ingressClosed;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => client.end(true, {}, () => resolve()), 2000);
      client.end(false, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await ingressClosed;
    disk?.close();
  }

  private onConnect(): void {
    const o = this.options;
    const was = this.status;
    this.status = 'connected';
    this.lastError = undefined;
    this.logger.info({ bridge: o.name, server: o.server, proto_ver: o.protocolVersion, reconnected: was === 'disconnected' }, 'Bridge connected');
    this.pump();
  }

  private onClose(): void {
    if (this.status === 'stopped') return;
    if (this.status === 'connected') {
      this.logger.warn({ bridge: this.options.name, server: this.options.server, reason: this.lastError ?? 'tcp_closed' }, 'Bridge disconnected, reconnecting');
    }
    this.status = 'disconnected';
  }

  // ── egress ───────────────────────────────────────────────────────────────

  private readonly onLocalPublish = (msg: Message): void => {
    const egress = this.options.egress!;
    if (msg.from === this.origin || !topicMatches(egress.localTopic, msg.topic)) return;
    this.counts.matched++;
    const f: TemplateFields = { topic: msg.topic, payload: msg.payload, qos: msg.qos, retain: msg.retain, clientid: msg.from };
    const t = egress.remote;
    const topic = renderText(t.topic, f);
    const payload = renderPayload(t.payload, f);
    const size = payload.length + topic.length;
    if (this.bufferedBytes + size > this.options.maxBufferBytes) {
      this.counts.dropped++;
      this.logDrop();
      return;
    }
    const opts: IClientPublishOptions = { qos: renderQos(t.qos, f), retain: renderRetain(t.retain, f) };
    if (this.options.protocolVersion === 5 && msg.properties) opts.properties = v5Properties(msg);
    this.bufferedBytes += size;
    const place = this.disk?.append({ topic, payload, qos: opts.qos ?? 0, retain: opts.retain ?? false });
    this.queue.push({ topic, payload, opts, size, ...(place ? { place } : {}) });
    this.pump();
  };

  private pump(): void {
    const client = this.client;
    if (!client || this.status !== 'connected') return;
    while (this.inflight < this.options.maxInflight && this.queueHead < this.queue.length) {
      const out = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined; // let the bytes go before the queue is compacted
      this.inflight++;
      client.publish(out.topic, out.payload, out.opts, (err) => {
        this.inflight--;
        this.bufferedBytes -= out.size;
        if (err) this.counts.failed++;
        else this.counts.success++;
        if (out.place) this.disk?.ack(out.place);
        this.pump();
      });
    }
    // drop the consumed head once it is most of the array
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  private logDrop(): void {
    this.droppedSinceLog++;
    const now = Date.now();
    if (now - this.lastDropLog < DROP_LOG_MS) return;
    this.logger.warn(
      { bridge: this.options.name, dropped: this.droppedSinceLog, max_buffer_bytes: this.options.maxBufferBytes, status: this.status },
      'Bridge buffer full, dropping egress messages',
    );
    this.lastDropLog = now;
    this.droppedSinceLog = 0;
  }

  // ── ingress ──────────────────────────────────────────────────────────────

  private onRemoteMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const t = this.options.ingress!.local;
    const f: TemplateFields = { topic, payload, qos: packet.qos, retain: packet.retain, clientid: this.separateIngress ? this.options.ingressClientId! : this.options.clientId };
    const now = Date.now();
    const properties = fromV5Properties(packet);
    const msg: Message = {
      id: newMessageId(),
      topic: renderText(t.topic, f),
      payload: renderPayload(t.payload, f),
      qos: renderQos(t.qos, f),
      retain: renderRetain(t.retain, f),
      properties,
      from: this.origin,
      timestamp: now,
      expiresAt: properties?.messageExpiryInterval ? now + properties.messageExpiryInterval * 1000 : 0,
    };
    this.counts.received++;
    this.broker.publish(msg);
  }
}

/** A local message's properties for a v5 remote broker; the expiry is what is left of it. */
function v5Properties(msg: Message): IClientPublishOptions['properties'] {
  const p = msg.properties!;
  const out: NonNullable<IClientPublishOptions['properties']> = {};
  if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator;
  if (msg.expiresAt > 0) out.messageExpiryInterval = Math.max(1, Math.ceil((msg.expiresAt - Date.now()) / 1000));
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) out.correlationData = p.correlationData;
  if (p.userProperties !== undefined) out.userProperties = p.userProperties;
  return out;
}

function fromV5Properties(packet: IPublishPacket): MessageProperties | undefined {
  const p = packet.properties;
  if (!p) return undefined;
  const out: MessageProperties = {};
  if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.messageExpiryInterval !== undefined) out.messageExpiryInterval = p.messageExpiryInterval;
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) out.correlationData = p.correlationData;
  if (p.userProperties !== undefined) out.userProperties = p.userProperties;
  return Object.keys(out).length ? out : undefined;
}
