/** The session's value types and the interfaces it talks through (no code: every layer may import these). */
import type { Message } from '../message.js';
import type { SubOptions } from '../subscription.js';

/** What events and the journal need to know of a session. */
export interface SessionRef {
  readonly clientId: string;
}

/** One message on its way to one subscriber, with what the subscription decided for it. */
export interface Delivery {
  msg: Message;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** Subscription identifiers to attach (v5), or undefined. */
  subIds: number[] | undefined;
  /** `group/filter` of the shared subscription it came through, so it can be redispatched. */
  share: string | undefined;
}

export interface InflightEntry {
  pid: number;
  delivery: Delivery;
  /** `publish`: waiting for PUBACK/PUBREC; `pubrel`: PUBREL sent, waiting for PUBCOMP. */
  state: 'publish' | 'pubrel';
  sentAt: number;
  /** Not yet resent on this connection: over the client's Receive Maximum at reconnect, waits for acks. */
  held?: boolean;
}

/** What a session needs from the connection it is attached to. */
export interface Outlet {
  /** Largest number of unacknowledged QoS 1/2 messages the client accepts (its Receive Maximum). */
  readonly receiveMaximum: number;
  /** Writes a PUBLISH; false when it could not be sent (too large for the client) and was dropped. */
  sendPublish(d: Delivery, pid: number, dup: boolean): boolean;
  sendPubrel(pid: number): void;
  /** True while the client reads too slowly: its write backlog is full, QoS 0 is dropped. */
  congested(): boolean;
}

/**
 * Why a message did not reach a subscriber; the names EMQX uses in its `messages.dropped.*` and
 * `delivery.dropped.*` counters (`qos0_msg`: QoS 0 not sent to a subscriber that is not keeping up).
 */
export type DropReason = 'queue_full' | 'expired' | 'no_connection' | 'too_large' | 'no_subscribers' | 'acl_denied' | 'qos0_msg';

export interface SessionLimits {
  maxInflight: number;
  maxMqueueLen: number;
  /** Payload + topic bytes the queue may hold; 0 or absent = unlimited. */
  maxMqueueBytes?: number;
  mqueueStoreQos0: boolean;
}

export interface SessionEvents {
  onDrop(session: SessionRef, d: Delivery, reason: DropReason): void;
  onDelivered(session: SessionRef, d: Delivery): void;
  /** The subscriber acknowledged a QoS 1 (PUBACK) or QoS 2 (PUBREC) message. */
  onAcked?(session: SessionRef, d: Delivery): void;
}

/** The session as a plain value: what moves between nodes on takeover and what a store keeps. */
export interface SessionState {
  clientId: string;
  createdAt: number;
  /** Seconds; 0xFFFFFFFF = never expires. */
  expiryInterval: number;
  subscriptions: [string, SubOptions][];
  inflight: InflightEntry[];
  mqueue: Delivery[];
  awaitingRel: [number, number][];
  nextPacketId: number;
  /** A delayed will waiting to be published (a session pushed away by evacuation). */
  will?: { msg: Message; fireAt: number };
  /** When an offline session expires, ms since the epoch (a session pushed away by evacuation). */
  expiresAt?: number;
}

/**
 * What a persistent session tells its store about the messages it holds. Sessions without
 * expiry have none (`session.journal` undefined): one property check per message, nothing else.
 */
export interface SessionJournal {
  /** `d` joined the session's queue. */
  queued(s: SessionRef, d: Delivery): void;
  /** `d` was sent with packet id `pid` and waits for PUBACK / PUBREC. */
  sent(s: SessionRef, d: Delivery, pid: number): void;
  /** QoS 2: PUBREC came for `d`; it waits for PUBCOMP. */
  released(s: SessionRef, d: Delivery, pid: number): void;
  /** The session no longer holds `d`: acknowledged, dropped, expired or given to another member. */
  done(s: SessionRef, d: Delivery): void;
  /** An incoming QoS 2 packet id awaits PUBREL (`at` set) or no longer does. */
  awaitingRel(s: SessionRef, pid: number, at: number | undefined): void;
}
