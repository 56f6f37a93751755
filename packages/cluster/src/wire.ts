/**
 * The peer protocol's frames as TypeScript sees them (packages/cluster/proto/cluster.proto,
 * loaded at run time by @grpc/proto-loader), and the conversion of broker messages to and
 * from their wire form.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { newMessageId, type Message, type MessageProperties } from '@vireo/broker';

export interface WireRoute {
  filter: string;
  /** '' for a plain subscription. */
  group: string;
}

export interface WireProps {
  has_payload_format_indicator?: boolean;
  payload_format_indicator?: boolean;
  has_message_expiry_interval?: boolean;
  message_expiry_interval?: number;
  has_content_type?: boolean;
  content_type?: string;
  has_response_topic?: boolean;
  response_topic?: string;
  has_correlation_data?: boolean;
  correlation_data?: Buffer;
  user_properties?: { key: string; value: string }[];
}

export interface WireMsg {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  from: string;
  timestamp: number;
  expires_at: number;
  props?: WireProps | null;
  groups?: string[];
  /** Protocol 4: the node it was published on and its id there ('' / 0: not known, from an earlier release). */
  origin?: string;
  origin_id?: number;
}

export interface Frame {
  challenge?: { node: string; nonce: Buffer; mac?: Buffer; version?: number };
  hello?: { node: string; addr: string; nonce: Buffer; mac?: Buffer; join?: boolean; version_min?: number; version_max?: number };
  welcome?: { node: string; mac?: Buffer };
  proof?: { mac: Buffer };
  refused?: { reason: string };
  heartbeat?: { at: number; probe?: number; echo?: number };
  routes?: { snapshot: boolean; seq: number; add: WireRoute[]; del: WireRoute[]; clients_add: string[]; clients_del: string[]; clients_add_ts?: number[] };
  forward?: { msgs: WireMsg[]; epoch?: number; seq?: number };
  forward_ack?: { epoch: number; seq: number };
  retained?: { entries: { msg: WireMsg; origin: string }[] };
  takeover?: { id: number; clientid: string; clean: boolean };
  takeover_reply?: { id: number; found: boolean; state: Buffer; moved_to?: string };
  takeover_end?: { clientid: string };
  takeover_rest?: { clientid: string; deliveries: Buffer; id?: number };
  takeover_rest_ack?: { clientid: string; id: number };
  session_push?: { clientid: string; state: Buffer };
  session_push_refused?: { clientid: string; reason: string };
  takeover_barrier?: { clientid: string; old_node: string };
  takeover_barrier_done?: { clientid: string };
  leave?: Record<string, never>;
  members?: { members: { node: string; addr: string }[]; forget: string[] };
  admin_request?: { id: number; op: string; args: Buffer };
  admin_reply?: { id: number; ok: boolean; result: Buffer; error: string };
}

export type PeerStream = grpc.ClientDuplexStream<Frame, Frame>;
export type PeerServerStream = grpc.ServerDuplexStream<Frame, Frame>;

interface PeerClient extends grpc.Client {
  Link(): PeerStream;
}
type PeerClientCtor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => PeerClient;

const PROTO = fileURLToPath(new URL('../proto/cluster.proto', import.meta.url));

// Loaded at run time rather than generated: the .proto stays the single source, no codegen
// step in the build, and the few frame types are written out above.
const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, enums: String, defaults: false, arrays: true, oneofs: false });
const loaded = grpc.loadPackageDefinition(definition) as unknown as {
  vireo: { cluster: { Peer: PeerClientCtor & { service: grpc.ServiceDefinition } } };
};
export const PeerService = loaded.vireo.cluster.Peer;

/** Cluster frames can carry large batches; MQTT's own max_packet_size bounds each message. */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
};

/** `self`: this node, named as the origin of a message published here (a forward's, protocol 4). */
export function toWire(msg: Message, self?: string): WireMsg {
  const w: WireMsg = {
    topic: msg.topic,
    payload: msg.payload,
    qos: msg.qos,
    retain: msg.retain,
    from: msg.from,
    timestamp: msg.timestamp,
    expires_at: msg.expiresAt,
  };
  if (self !== undefined) {
    w.origin = msg.origin ?? self;
    w.origin_id = msg.origin === undefined ? msg.id : (msg.originId ?? 0);
  }
  const p = msg.properties;
  if (p) {
    const wp: WireProps = {};
    if (p.payloadFormatIndicator !== undefined) {
      wp.has_payload_format_indicator = true;
      wp.payload_format_indicator = p.payloadFormatIndicator;
    }
    if (p.messageExpiryInterval !== undefined) {
      wp.has_message_expiry_interval = true;
      wp.message_expiry_interval = p.messageExpiryInterval;
    }
    if (p.contentType !== undefined) {
      wp.has_content_type = true;
      wp.content_type = p.contentType;
    }
    if (p.responseTopic !== undefined) {
      wp.has_response_topic = true;
      wp.response_topic = p.responseTopic;
    }
    if (p.correlationData !== undefined) {
      wp.has_correlation_data = true;
      wp.correlation_data = p.correlationData;
    }
    if (p.userProperties) {
      wp.user_properties = [];
      for (const [key, v] of Object.entries(p.userProperties)) {
        for (const value of Array.isArray(v) ? v : [v]) wp.user_properties.push({ key, value });
      }
    }
    w.props = wp;
  }
  return w;
}

export function fromWire(w: WireMsg): Message {
  let properties: MessageProperties | undefined;
  const wp = w.props;
  if (wp) {
    properties = {};
    if (wp.has_payload_format_indicator) properties.payloadFormatIndicator = wp.payload_format_indicator ?? false;
    if (wp.has_message_expiry_interval) properties.messageExpiryInterval = wp.message_expiry_interval ?? 0;
    if (wp.has_content_type) properties.contentType = wp.content_type ?? '';
    if (wp.has_response_topic) properties.responseTopic = wp.response_topic ?? '';
    if (wp.has_correlation_data) properties.correlationData = wp.correlation_data ?? Buffer.alloc(0);
    if (wp.user_properties && wp.user_properties.length > 0) {
      const up: Record<string, string | string[]> = {};
      for (const { key, value } of wp.user_properties) {
        const prev = up[key];
        up[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
      }
      properties.userProperties = up;
    }
  }
  const qos = w.qos === 1 || w.qos === 2 ? w.qos : 0;
  return {
    id: newMessageId(),
    topic: w.topic,
    payload: w.payload ?? Buffer.alloc(0),
    qos,
    retain: w.retain ?? false,
    properties,
    from: w.from ?? '',
    timestamp: w.timestamp ?? 0,
    expiresAt: w.expires_at ?? 0,
    // '' : the sending node did not say (an earlier release): copies are matched by content
    origin: w.origin ?? '',
    originId: w.origin_id ?? 0,
    // the fields delivery sets, present from the start: one object shape, no property store added per message
    sampledAt: undefined,
    encodedKey: -1,
    encodedOne: undefined,
    encoded: undefined,
  };
}
