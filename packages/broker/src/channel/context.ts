/**
 * What a Channel needs from the node around it: a narrow interface, so the protocol state
 * machine does not depend on the Broker (the broker implements it; unit tests fake it).
 */
import type { Logger } from 'pino';
import type { BrokerHooks, ClientInfo, ConnackInfo } from '../hooks.js';
import type { Message } from '../message.js';
import type { LogThrottle } from '../node/log-throttle.js';
import type { Stats } from '../node/stats.js';
import type { MqttOptions } from '../options.js';
import type { BrokerStore } from '../persistence/store.js';
import type { Session } from '../session/session.js';
import type { SubOptions } from '../subscription.js';
import type { Trace, Tracer } from '../trace.js';
import type { GuardState } from '../guard/guard-state.js';

/** Will message with its delay, held until the connection ends. */
export interface Will {
  msg: Message;
  delay: number;
}

/** A publisher's round-robin counters per shared group (EMQX's `round_robin`). */
export interface RrOwner {
  rrCounters: Map<string, { value: number }> | undefined;
}

/** A connected client as the connection manager, $SYS and the query API see it. */
export interface ChannelHandle extends RrOwner {
  readonly clientId: string;
  readonly peer: string;
  readonly listener: string;
  readonly username: string | undefined;
  readonly protocolVersion: 3 | 4 | 5;
  readonly keepalive: number;
  readonly connectedAt: number;
  readonly info: ClientInfo;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Bytes written to the client and not yet taken by the kernel: a slow reader shows here. */
  readonly backlog: number;
  session: Session | undefined;
  will: Will | undefined;
  traces: Trace[] | undefined;
  /** Closes the connection; `rc` sends a v5 DISCONNECT first (when connected), with a Server Reference when given. */
  close(reason: string, rc?: number, serverReference?: string): void;
}

/** A connected client, read-only: what `Broker.connection(clientId)` gives. */
export type ConnectedClient = Readonly<
  Pick<ChannelHandle, 'clientId' | 'peer' | 'listener' | 'username' | 'protocolVersion' | 'keepalive' | 'connectedAt' | 'info' | 'bytesIn' | 'bytesOut' | 'backlog'>
>;

export interface ChannelContext {
  readonly mqtt: MqttOptions;
  readonly hooks: BrokerHooks;
  /** Durable acks: a publish's ack waits for the commit of what it wrote. */
  readonly store: Pick<BrokerStore, 'durable' | 'queued' | 'afterCommit'>;
  readonly stats: Stats;
  readonly logger: Logger;
  /** Per-message log lines (drops, denials): the first per client and window, then a count. */
  readonly logThrottle: LogThrottle;
  readonly tracer: Tracer;
  /** Overload protection and force_shutdown (guard/). */
  readonly guard: GuardState;
  /** True while someone listens to `client.connack` (the CONNECT is kept only then). */
  wantsConnack(): boolean;
  connack(info: ConnackInfo): void;
  assignClientId(): string;
  /**
   * Whether this node takes new CONNECTs now: a refusal (CONNACK 0x9C Use another server, with
   * the Server Reference when given) while it is evacuating; undefined: accepted.
   */
  admission(): { serverReference: string | undefined } | undefined;
  /**
   * On CONNECT: a session of `clientId` on another node is ended there (clean start) or moved
   * here; undefined at once when no other node has one (a local CONNECT never waits).
   */
  claimClient(clientId: string, cleanStart: boolean): Promise<void> | undefined;
  /** Binds the channel to its session (closing an older connection of the clientid). */
  openSession(ch: ChannelHandle, cleanStart: boolean, expiryInterval: number): { session: Session; present: boolean };
  connected(ch: ChannelHandle): void;
  /** A connected channel's socket is gone. */
  closed(ch: ChannelHandle, reason: string): void;
  /** A channel that never completed CONNECT is gone. */
  aborted(ch: ChannelHandle, reason: string): void;
  /** Routes a client's PUBLISH; returns how many local subscribers got it. */
  publish(msg: Message, from: RrOwner): number;
  countDropped(reason: string): void;
  subscribe(session: Session, info: ClientInfo, fullFilter: string, opts: SubOptions): boolean;
  unsubscribe(session: Session, info: ClientInfo, fullFilter: string): boolean;
  sendRetained(session: Session, fullFilter: string, opts: SubOptions, isNew: boolean): void;
}
