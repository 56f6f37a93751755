/** Plain counters, incremented inline on the hot path and read when someone asks. */
export class Stats {
  packetsIn = 0;
  packetsOut = 0;
  msgIn = 0;
  msgOut = 0;
  msgDropped = 0;
  readonly droppedBy = new Map<string, number>();
  authSuccess = 0;
  authFailure = 0;
  aclDenied = 0;
  connected = 0;
  disconnected = 0;
  takeovers = 0;
  discards = 0;
  kicks = 0;
  connectionsMax = 0;
  /** PUBLISH received / sent by QoS (index 0, 1, 2). */
  readonly msgInQos = [0, 0, 0];
  readonly msgOutQos = [0, 0, 0];
  /** Messages handed to a subscriber's connection (`message.delivered`), and QoS 1/2 acknowledged by it (`message.acked`). */
  delivered = 0;
  acked = 0;
  /** Bytes read from and written to MQTT connections (Connection adds them per chunk/write). */
  bytesIn = 0;
  bytesOut = 0;
  /** MQTT packets by type, received and sent (EMQX `packets.<type>.received|sent`). */
  readonly packetsReceived: Record<PacketType, number> = packetCounts();
  readonly packetsSent: Record<PacketType, number> = packetCounts();
}

export const PACKET_TYPES = [
  'connect',
  'connack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'pingreq',
  'pingresp',
  'disconnect',
  'auth',
] as const;
export type PacketType = (typeof PACKET_TYPES)[number];

function packetCounts(): Record<PacketType, number> {
  // every key present from the start: one object shape, and a rate() works before the first packet
  return Object.fromEntries(PACKET_TYPES.map((t) => [t, 0])) as Record<PacketType, number>;
}
