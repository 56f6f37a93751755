/** Fakes for the broker's unit tests (files named *.test.ts beside the code they test). */
import { GuardState } from '../guard/guard-state.js';
import { EventEmitter } from 'node:events';
import pino from 'pino';
import type { ChannelContext, ChannelHandle, RrOwner } from '../channel/context.js';
import type { BrokerEvents } from '../events.js';
import type { ClientInfo } from '../hooks.js';
import { newMessageId, type Message } from '../message.js';
import { LogThrottle } from '../node/log-throttle.js';
import { Stats } from '../node/stats.js';
import { DEFAULT_MQTT, type MqttOptions } from '../options.js';
import { Session } from '../session/session.js';
import type { Delivery, DropReason, Outlet, SessionEvents, SessionLimits } from '../session/types.js';
import type { SubOptions } from '../subscription.js';
import { Tracer } from '../trace.js';
import type { Connection } from '../transport/connection.js';

export const silentLogger = pino({ level: 'silent' });

export function message(topic: string, qos: 0 | 1 | 2 = 0, extra: Partial<Message> = {}): Message {
  return { id: newMessageId(), topic, payload: Buffer.from('x'), qos, retain: false, properties: undefined, from: 'pub', timestamp: Date.now(), expiresAt: 0, ...extra };
}

export function subOpts(qos: 0 | 1 | 2 = 0, extra: Partial<SubOptions> = {}): SubOptions {
  return { qos, nl: false, rap: false, rh: 0, subId: 0, ...extra };
}

/** An Outlet that records what the session sends. */
export class FakeOutlet implements Outlet {
  sent: { topic: string; qos: number; pid: number; dup: boolean }[] = [];
  pubrels: number[] = [];
  congestedNow = false;
  tooLarge = false;
  constructor(readonly receiveMaximum = 65535) {}
  sendPublish(d: Delivery, pid: number, dup: boolean): boolean {
    if (this.tooLarge) return false;
    this.sent.push({ topic: d.msg.topic, qos: d.qos, pid, dup });
    return true;
  }
  sendPubrel(pid: number): void {
    this.pubrels.push(pid);
  }
  congested(): boolean {
    return this.congestedNow;
  }
}

/** Session events that record drops, deliveries and acks. */
export function recordingEvents(): SessionEvents & { drops: [string, DropReason][]; delivered: string[]; acked: string[] } {
  const rec = {
    drops: [] as [string, DropReason][],
    delivered: [] as string[],
    acked: [] as string[],
    onDrop: (_s: unknown, d: Delivery, reason: DropReason) => void rec.drops.push([d.msg.topic, reason]),
    onDelivered: (_s: unknown, d: Delivery) => void rec.delivered.push(d.msg.topic),
    onAcked: (_s: unknown, d: Delivery) => void rec.acked.push(d.msg.topic),
  };
  return rec;
}

export function newSession(clientId: string, limits: Partial<SessionLimits> = {}, events: SessionEvents = recordingEvents(), expiry = 0): Session {
  return new Session(clientId, expiry, { maxInflight: 32, maxMqueueLen: 1000, mqueueStoreQos0: true, ...limits }, events);
}

/** A Connection stand-in: collects written bytes, closes like the real one (handler.onClose). */
export class FakeConnection {
  readonly peer = '127.0.0.1:5000';
  readonly listener = 'tcp:default';
  closed = false;
  closeReason = '';
  bytesIn = 0;
  bytesOut = 0;
  backlog = 0;
  writes: Buffer[] = [];
  protocolVersion = 4;
  keepaliveMs = 0;
  /** Read pauses (limits/read-gate.ts): the socket only records whether it is read. */
  readPaused = 0;
  lastRecv = 0;
  readonly socket = {
    paused: false,
    pause(): void {
      this.paused = true;
    },
    resume(): void {
      this.paused = false;
    },
  };
  handler!: { onClose(reason: string): void };
  write(buf: Buffer): void {
    if (!this.closed) this.writes.push(buf);
  }
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.handler.onClose(reason);
  }
  setProtocolVersion(v: number): void {
    this.protocolVersion = v;
  }
  startKeepalive(ms: number): void {
    this.keepaliveMs = ms;
  }
  /** Written bytes since the last call, as one buffer. */
  take(): Buffer {
    const out = Buffer.concat(this.writes);
    this.writes = [];
    return out;
  }
  asConnection(): Connection {
    return this as unknown as Connection;
  }
}

/** A ChannelContext that records what the channel asks of the node. */
export class FakeContext implements ChannelContext {
  readonly mqtt: MqttOptions;
  readonly hooks = {};
  readonly stats = new Stats();
  readonly logger = silentLogger;
  readonly logThrottle = new LogThrottle(silentLogger);
  readonly tracer = new Tracer('test@node');
  readonly guard = new GuardState();
  readonly events = new EventEmitter<BrokerEvents>();
  readonly store = { durable: false, queued: 0, afterCommit: (fn: (arg: number, ok: boolean) => void, arg: number) => void this.commits.push([fn, arg]) };
  commits: [(arg: number, ok: boolean) => void, number][] = [];
  sessions = new Map<string, Session>();
  published: Message[] = [];
  subscribed: [string, SubOptions][] = [];
  retainedAsked: string[] = [];
  dropped: string[] = [];
  lifecycle: string[] = [];
  matches = 1;

  constructor(mqtt: Partial<MqttOptions> = {}) {
    this.mqtt = { ...DEFAULT_MQTT, ...mqtt };
  }
  wantsConnack(): boolean {
    return false;
  }
  connack(): void {}
  assignClientId(): string {
    return 'assigned-1';
  }
  /** Set to refuse CONNECTs as an evacuating node does. */
  refusal: { serverReference: string | undefined } | undefined;
  admission(): { serverReference: string | undefined } | undefined {
    return this.refusal;
  }
  claimClient(): undefined {
    return undefined;
  }
  openSession(ch: ChannelHandle, _clean: boolean, expiry: number): { session: Session; present: boolean } {
    const session = newSession(ch.clientId, {}, recordingEvents(), expiry);
    this.sessions.set(ch.clientId, session);
    this.lifecycle.push(`open:${ch.clientId}`);
    return { session, present: false };
  }
  connected(ch: ChannelHandle): void {
    this.lifecycle.push(`connected:${ch.clientId}`);
  }
  closed(ch: ChannelHandle, reason: string): void {
    this.lifecycle.push(`closed:${ch.clientId}:${reason}`);
  }
  aborted(_ch: ChannelHandle, reason: string): void {
    this.lifecycle.push(`aborted:${reason}`);
  }
  publish(msg: Message, _from: RrOwner): number {
    this.published.push(msg);
    return this.matches;
  }
  countDropped(reason: string): void {
    this.dropped.push(reason);
  }
  subscribe(session: Session, _info: ClientInfo, filter: string, opts: SubOptions): boolean {
    const isNew = !session.subscriptions.has(filter);
    session.setSubscription(filter, opts);
    this.subscribed.push([filter, opts]);
    return isNew;
  }
  unsubscribe(session: Session, _info: ClientInfo, filter: string): boolean {
    return session.subscriptions.delete(filter);
  }
  sendRetained(_s: Session, filter: string): void {
    this.retainedAsked.push(filter);
  }
}
