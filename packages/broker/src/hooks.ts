/** Typed extension points for an application that embeds the broker. */

export interface ClientInfo {
  clientId: string;
  username: string | undefined;
  /** Peer address `ip:port`. */
  peer: string;
  protocolVersion: 3 | 4 | 5;
  listener: string;
  /** Set when authentication found a superuser: authorization lets it do anything. */
  isSuperuser?: boolean;
  /** What authentication attached to the client (`AuthResult.attrs`, e.g. a JWT's rules), for `authorize`. */
  attrs?: Readonly<Record<string, unknown>>;
}

/** A CONNACK the broker sent (the `client.connack` event), accepted or refused. */
export interface ConnackInfo extends ClientInfo {
  /** v5 reason code, also for 3.1.1 clients (0 = success). */
  reasonCode: number;
  keepalive: number;
  cleanStart: boolean;
  /** Session expiry interval asked for, in seconds. */
  expiryInterval: number;
  /** The CONNECT's v5 properties, as the client sent them. */
  connProps: Record<string, unknown> | undefined;
}

export interface AuthenticateRequest extends ClientInfo {
  password: Buffer | undefined;
  /** The common name of the TLS client certificate, when the client sent one. */
  certCommonName?: string;
}

/** `ok: false` refuses the CONNECT; reasonCode is the v5 CONNACK code (0x86 bad credentials, 0x87 not authorized, …). */
export type AuthResult = { ok: true; isSuperuser?: boolean; attrs?: Readonly<Record<string, unknown>> } | { ok: false; reasonCode?: number };

export type AuthorizeAction = 'publish' | 'subscribe';

export interface BrokerHooks {
  /** Called on every CONNECT; absent means allow all. */
  authenticate?: (req: AuthenticateRequest) => AuthResult | Promise<AuthResult>;
  /**
   * Called for each PUBLISH topic and SUBSCRIBE filter; absent means allow all.
   * A synchronous answer keeps the publish path free of Promises.
   */
  authorize?: (
    client: ClientInfo,
    action: AuthorizeAction,
    topic: string,
    /** the PUBLISH's, or the QoS a SUBSCRIBE asks for */ qos?: 0 | 1 | 2,
    /** PUBLISH only */ retain?: boolean,
  ) => boolean | Promise<boolean>;
  /**
   * Called for each allowed subscription: true marks it (`SubOptions.aclCheck`) so that every
   * message delivered through it is checked by `authorizeDelivery`; unmarked ones cost nothing.
   */
  deliveryCheck?: (client: ClientInfo, filter: string) => boolean;
  /** For marked subscriptions, per message (live or retained): false drops it for this client. */
  authorizeDelivery?: (clientId: string, topic: string) => boolean;
}
