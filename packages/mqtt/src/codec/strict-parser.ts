import { isUtf8 } from 'node:buffer';
import { createRequire } from 'node:module';
import type { BufferListConstructor } from 'bl/BufferList.js';
import type { Parser } from 'mqtt-packet';
import { mqtt } from './encode.js';

// bl (our own dependency, the version mqtt-packet uses) ships a CommonJS class whose .d.ts
// exports only its types
const BufferList = createRequire(import.meta.url)('bl/BufferList.js') as BufferListConstructor;

/**
 * mqtt-packet's parser with the checks it leaves out, so that what it emits as a packet is
 * well formed and every other input is an `error` event:
 * - UTF-8 strings must be valid UTF-8 without U+0000 [MQTT-1.5.3-1, MQTT-1.5.3-2]
 *   (mqtt-packet decodes ill-formed bytes to U+FFFD and accepts NUL);
 * - the fields fill the remaining length exactly (mqtt-packet reads a field that runs past it
 *   from the next packet's bytes, yields -1 for a missing packet id, ignores extra bytes);
 * - Will QoS is not 3 [MQTT-3.1.2-12];
 * - a property other than User Property appears at most once (v5, a Protocol Error);
 * - SUBSCRIBE and UNSUBSCRIBE carry at least one topic filter, a Subscription Identifier is
 *   not 0 and comes only in SUBSCRIBE (Protocol Errors).
 * The frame that failed is kept in the parser's buffer; `frameBytes` gives it for the log.
 *
 * These checks hook mqtt-packet's parser steps (`_parseString`, `_parseProperties`,
 * `_parsePayload`) and read its state (`_list`, `_pos`, `_stateCounter`, `packet`,
 * `settings`): mqtt-packet has no public way to do this, so it is pinned to an exact version
 * and codec.test.ts fails when any of these changes. Every private access is in this file.
 */

/** A parse error the v5 spec calls a Protocol Error (DISCONNECT 0x82) rather than a Malformed Packet (0x81). */
export class ProtocolViolation extends Error {}

interface BufferList {
  length: number;
  slice(start?: number, end?: number): Buffer;
}

interface ParserInternals {
  _list: BufferList;
  _pos: number;
  _stateCounter: number;
  error: Error | null;
  packet: {
    cmd: string;
    length: number;
    qos: number;
    dup: boolean;
    retain: boolean;
    messageId?: number;
    subscriptions?: unknown[];
    unsubscriptions?: unknown[];
    properties?: { subscriptionIdentifier?: unknown };
    will?: { qos?: number };
  };
  _emitError(err: Error): void;
  _parseString(): string | null;
  _parsePayload(): boolean;
  _parseProperties(): Record<string, unknown> | false;
}

const CODES: Record<string, number> = {
  reserved: 0,
  connect: 1,
  connack: 2,
  publish: 3,
  puback: 4,
  pubrec: 5,
  pubrel: 6,
  pubcomp: 7,
  subscribe: 8,
  suback: 9,
  unsubscribe: 10,
  unsuback: 11,
  pingreq: 12,
  pingresp: 13,
  disconnect: 14,
  auth: 15,
};

// The checks are shared functions installed on each parser (no closure per connection: a
// parser exists for every connected client, and memory per idle client matters).
const proto = Object.getPrototypeOf(mqtt.parser({ protocolVersion: 4 })) as ParserInternals;
/* eslint-disable @typescript-eslint/unbound-method -- put back on the prototype below and called with the parser as `this` */
const baseParseString = proto._parseString;
const baseParseProperties = proto._parseProperties;
const baseParsePayload = proto._parsePayload;
/* eslint-enable @typescript-eslint/unbound-method */

function strictParseString(this: ParserInternals): string | null {
  const start = this._pos + 2;
  const s = baseParseString.call(this);
  // U+FFFD is where the decoder met ill-formed bytes (or a real U+FFFD: then the bytes are valid)
  if (s !== null && !this.error) {
    if (s.includes('\u0000')) this._emitError(new Error('UTF-8 string contains U+0000'));
    else if (s.includes('\ufffd') && !isUtf8(this._list.slice(start, this._pos))) this._emitError(new Error('Invalid UTF-8 string'));
  }
  return s;
}

function strictParseProperties(this: ParserInternals): Record<string, unknown> | false {
  const props = baseParseProperties.call(this);
  if (props && !this.error) {
    for (const name in props) {
      // mqtt-packet leaves null where a property's string or binary ran past the packet: malformed, not "no value"
      if (props[name] === null) {
        this._emitError(new Error(`Malformed property ${name}: runs past the packet`));
        break;
      }
      if (name !== 'userProperties' && Array.isArray(props[name])) {
        this._emitError(new ProtocolViolation(`Property ${name} included more than once`));
        break;
      }
    }
  }
  return props;
}

function strictParsePayload(this: ParserInternals): boolean {
  const done = baseParsePayload.call(this);
  if (!done || this.error) return done;
  const pk = this.packet;
  if (this._pos > pk.length || pk.messageId === -1) this._emitError(new Error(`Malformed ${pk.cmd}: fields run past the remaining length`));
  else if (pk.cmd !== 'publish' && this._pos < pk.length) this._emitError(new Error(`Malformed ${pk.cmd}: bytes after the last field`));
  else if (pk.cmd === 'connect' && pk.will?.qos === 3) this._emitError(new Error('Will QoS 3'));
  else if (pk.cmd === 'subscribe' && pk.subscriptions?.length === 0) this._emitError(new ProtocolViolation('SUBSCRIBE with no topic filter'));
  else if (pk.cmd === 'unsubscribe' && pk.unsubscriptions?.length === 0) this._emitError(new ProtocolViolation('UNSUBSCRIBE with no topic filter'));
  else if (pk.cmd === 'subscribe' && pk.properties?.subscriptionIdentifier === 0) this._emitError(new ProtocolViolation('Subscription Identifier 0'));
  else if (pk.cmd === 'publish' && pk.properties?.subscriptionIdentifier !== undefined)
    this._emitError(new ProtocolViolation('PUBLISH from a client with a Subscription Identifier'));
  return done;
}

export function strictParser(): Parser {
  const parser = mqtt.parser({ protocolVersion: 4 });
  const p = parser as unknown as ParserInternals;
  p._parseString = strictParseString;
  p._parseProperties = strictParseProperties;
  p._parsePayload = strictParsePayload;
  // bl's plain BufferList instead of its Duplex stream flavour: the parser only uses the list
  // methods, and the stream states cost ~1 KB per connection. (After a parse error mqtt-packet
  // makes a new stream-backed list, but the connection is closed by then.)
  p._list = new BufferList() as unknown as ParserInternals['_list'];
  return parser;
}

/** After CONNECT: mqtt-packet keeps the whole CONNECT as its settings; keep only what it reads. */
export function setParserProtocol(parser: Parser, protocolVersion: number): void {
  (parser as unknown as { settings: { protocolVersion: number } }).settings = { protocolVersion };
}

/** The remaining length announced by the packet being received (-1 before it is known). */
export function announcedLength(parser: Parser): number {
  return (parser as unknown as ParserInternals).packet.length;
}

/**
 * The bytes of the frame being parsed, at most `max`: the fixed header (rebuilt when the
 * parser has consumed it) and what is buffered of the rest.
 */
export function frameBytes(parser: Parser, max: number): Buffer {
  const p = parser as unknown as ParserInternals;
  try {
    const pk = p.packet;
    const head: number[] = [];
    if (p._stateCounter >= 1 && CODES[pk.cmd] !== undefined) {
      head.push((CODES[pk.cmd] << 4) | (pk.dup ? 8 : 0) | (pk.qos << 1) | (pk.retain ? 1 : 0));
      if (p._stateCounter >= 2 && pk.length >= 0) {
        let n = pk.length;
        do {
          let b = n % 128;
          n = Math.floor(n / 128);
          if (n > 0) b |= 0x80;
          head.push(b);
        } while (n > 0);
      }
    }
    const bodyLen = p._stateCounter >= 2 && pk.length >= 0 ? Math.min(pk.length, p._list.length) : p._list.length;
    const body = p._list.slice(0, Math.min(bodyLen, max));
    return Buffer.concat([Buffer.from(head), body]).subarray(0, max);
  } catch {
    return Buffer.alloc(0);
  }
}
