/** What a Broker emits, and the public shapes around it. */
import type { ClientInfo, ConnackInfo } from './hooks.js';
import type { Message, MessageProperties } from './message.js';
import type { DropReason } from './session/types.js';
import type { SubOptions } from './subscription.js';

/** EMQX's names for why a connection ended. */
export type DisconnectReason =
  | 'normal'
  | 'tcp_closed'
  | 'closed'
  | 'keepalive_timeout'
  | 'idle_timeout'
  | 'frame_error'
  | 'frame_too_large'
  | 'proto_unexpected_c'
  | 'protocol_error'
  | 'takeovered'
  | 'discarded'
  | 'kicked'
  | 'shutdown'
  | 'etimedout'
  | 'einval'
  | (string & {});

export interface BrokerEvents {
  'client.connack': [ConnackInfo];
  'client.connected': [ClientInfo];
  'client.disconnected': [ClientInfo, DisconnectReason];
  'session.subscribed': [ClientInfo, string, SubOptions];
  'session.unsubscribed': [ClientInfo, string];
  'message.publish': [Message];
  'message.delivered': [string, Message];
  /** QoS 1 PUBACK or QoS 2 PUBREC from the subscriber (clientid, message). */
  'message.acked': [string, Message];
  'message.dropped': [Message, DropReason];
  /** Dropped on the way to one subscriber (queue full, expired, …): clientid, message, reason (rule events' delivery_dropped). */
  'delivery.dropped': [string, Message, DropReason];
  /** The running nodes of the cluster changed (sorted names, this node included). */
  'cluster.nodes_changed': [string[]];
  /** A trace started or stopped (trace-store.ts keeps the running ones). */
  'trace.changed': [];
}

/** The part of the broker's EventEmitter the layers below it use: emit only when someone listens. */
export interface EventSink {
  listenerCount(event: keyof BrokerEvents): number;
  emit<K extends keyof BrokerEvents>(event: K, ...args: BrokerEvents[K]): boolean;
}

/** What an application publishes through `Broker.publish`. */
export interface PublishRequest {
  topic: string;
  payload: Buffer | string;
  qos?: 0 | 1 | 2;
  retain?: boolean;
  properties?: MessageProperties;
}
