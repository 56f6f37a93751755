/** Options of one subscription (MQTT 5 §3.8.3.1); v3 clients get the defaults. */
export interface SubOptions {
  qos: 0 | 1 | 2;
  /** No Local: don't deliver the subscriber's own messages. */
  nl: boolean;
  /** Retain As Published: keep the retain flag on delivery. */
  rap: boolean;
  /** Retain Handling: 0 send retained on subscribe, 1 only for a new subscription, 2 never. */
  rh: 0 | 1 | 2;
  /** Subscription identifier, 0 = none. */
  subId: number;
  /** Share group, when this came from `$share/{group}/…`. */
  share?: string;
  /**
   * Set by access control (`hooks.deliveryCheck`) on a wildcard subscription that overlaps a
   * subscribe deny: each message delivered through it passes `hooks.authorizeDelivery` first.
   * The session, the router and the store share this object, so access control may re-mark it.
   */
  aclCheck?: true;
}
