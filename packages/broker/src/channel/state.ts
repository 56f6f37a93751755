import type { IConnectPacket, Packet } from '@vireo/mqtt';
import type { ClientInfo } from '../hooks.js';
import type { Session } from '../session/session.js';
import type { Delivery, Outlet } from '../session/types.js';
import type { Trace } from '../trace.js';
import type { Connection } from '../transport/connection.js';
import type { ChannelContext, ChannelHandle, Will } from './context.js';
import type { OutboundAliases } from './topic-alias-out.js';

export type ChannelPhase = 'connecting' | 'authenticating' | 'connected' | 'closed';

/**
 * The protocol state of one connection (EMQX's emqx_channel record): what CONNECT set up,
 * topic aliases, packets held while an async step runs, durable acks in flight. The packet
 * handlers (handlers/) and the writers (send.ts) work on it; channel.ts dispatches packets.
 */
export abstract class ChannelState implements ChannelHandle, Outlet {
  state: ChannelPhase = 'connecting';
  clientId = '';
  username: string | undefined;
  protocolVersion: 3 | 4 | 5 = 4;
  v5 = false;
  keepalive = 0;
  session: Session | undefined;
  will: Will | undefined;
  connectedAt = 0;
  receiveMaximum = 65535;
  /** Largest packet the client accepts (v5 Maximum Packet Size); 0 = no limit. */
  clientMaxPacket = 0;
  topicAliases: Map<number, string> | undefined;
  /** Topic aliases towards the client (v5, when it accepts them and `maxTopicAliasOut` > 0). */
  aliasesOut: OutboundAliases | undefined;
  problemInfo = true;
  /** Packets that arrived while an async step (authentication, an async authorizer) runs. */
  pendingPackets: Packet[] | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  /** Round-robin counters of this publisher per shared group (EMQX's `round_robin`). */
  rrCounters: Map<string, { value: number }> | undefined;
  /** Traces following this client (by client id or address); undefined when none, the usual case. */
  traces: Trace[] | undefined;
  info!: ClientInfo;
  /** Reason given to the session/logs when the broker closes the connection. */
  disconnectReason: string | undefined;
  sessionExpiryAtConnect = 0;
  /** The CONNECT, kept only while someone listens to `client.connack`. */
  connectPacket: IConnectPacket | undefined;
  /** The write backlog was over the QoS 0 limit at the last QoS 0 delivery. */
  slowReader = false;
  /** Acks waiting for the store's commit (durable acks, handlers/acks.ts). */
  deferredAcks = 0;

  constructor(
    readonly conn: Connection,
    readonly ctx: ChannelContext,
  ) {}

  get peer(): string {
    return this.conn.peer;
  }

  get listener(): string {
    return this.conn.listener;
  }

  get bytesIn(): number {
    return this.conn.bytesIn;
  }

  get bytesOut(): number {
    return this.conn.bytesOut;
  }

  get backlog(): number {
    return this.conn.backlog;
  }

  /** Handles one inbound packet (also packets replayed after an async step). */
  abstract onPacket(packet: Packet): void;

  abstract sendPublish(d: Delivery, pid: number, dup: boolean): boolean;
  abstract sendPubrel(pid: number): void;
  abstract congested(): boolean;

  /** Closes the connection; `rc` sends a v5 DISCONNECT first (when connected). */
  abstract close(reason: string, rc?: number): void;

  /** Wakes the durable-ack continuation (handlers/acks.ts); a field so no closure is made per message. */
  abstract readonly ackCommitted: (packed: number, ok: boolean) => void;
}
