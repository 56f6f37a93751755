/**
 * Session state as versioned bytes: what a store keeps of a session and what moves between
 * nodes on takeover and evacuation. docs/architecture.md, "The record encoding".
 *
 * Every record starts with `u8 kind | u8 version`. A reader knows the versions
 * MIN_ENCODING_VERSION..ENCODING_VERSION and refuses a newer one with EncodingVersionError;
 * a writer may be asked for an older version (a peer in a mixed-version cluster names the
 * range it reads). Within a version, a record ends with extensions (`u32 n`, then n × `u8
 * key | bytes value`) that a reader skips when it does not know the key, so a field can be
 * added without a new version. Records whose first byte is 0xFF are V8 serializer output
 * from earlier releases and still read.
 *
 *   subopts:  u8 qos | nl << 2 | rap << 3 | rh << 4 | hasShare << 6 | aclCheck << 7 | u32 subId | [str share]
 *   state:    'S' 1 | str clientId | f64 createdAt | u32 expiryInterval | u32 nextPacketId
 *             | u32 n × (str filter | subopts) | u32 n × inflight | u32 n × delivery
 *             | u32 n × (u16 pid | f64 at) | ext
 *             ext keys: 1 will (f64 fireAt | message), 2 expiresAt (f64): what a session
 *             pushed away by evacuation carries; 3 origins of the inflight then the queued
 *             messages; a reader that does not know them skips them
 *   inflight: u16 pid | u8 pubrel | held << 1 | f64 sentAt | delivery
 *   row:      'R' 1 | str clientId | f64 createdAt | u32 expiryInterval | f64 expiresAt
 *             | u32 n × (str filter | subopts) | ext
 *   list:     'L' 1 | u32 n × delivery | ext
 *             ext key: 1 origins of the deliveries
 *   origins:  u32 n × (str node | f64 id): where each message was published and its id there
 *             (Message.origin; '' and 0: not known), written when the caller names this node
 *             (`self`), i.e. when the record goes to another node (docs/clustering.md)
 *   options:  'O' 1 | subopts | ext
 * (delivery: records.ts)
 */
import { deserialize } from 'node:v8';
import type { Message } from '../message.js';
import type { PersistedSession } from '../persistence/store.js';
import type { Delivery, InflightEntry, SessionState } from '../session/types.js';
import type { SubOptions } from '../subscription.js';
import { ByteReader, ByteWriter } from './bytes.js';
import { readDelivery, readMessage, writeDelivery, writeMessage } from './records.js';

/** The newest layout this build writes and reads. */
export const ENCODING_VERSION = 1;
/** The oldest layout this build still reads and can write. */
export const MIN_ENCODING_VERSION = 1;

const STATE = 0x53; // 'S'
const ROW = 0x52; // 'R'
const LIST = 0x4c; // 'L'
const OPTIONS = 0x4f; // 'O'
/** First byte of V8's serializer output (records of earlier releases). */
const V8_FORMAT = 0xff;

const KIND_NAMES: Record<number, string> = { [STATE]: 'session state', [ROW]: 'session row', [LIST]: 'delivery list', [OPTIONS]: 'subscription options' };

/** A record in a layout this build cannot read (newer, or older than it supports). */
export class EncodingVersionError extends Error {
  constructor(
    readonly kind: string,
    readonly version: number,
  ) {
    super(
      `${kind} encoding version ${version} is ${version > ENCODING_VERSION ? 'newer' : 'older'} than this node reads (${MIN_ENCODING_VERSION}..${ENCODING_VERSION}): ` +
        'keep every node of a cluster within each other’s supported range',
    );
    this.name = 'EncodingVersionError';
  }
}

function header(w: ByteWriter, kind: number, version: number): void {
  if (version < MIN_ENCODING_VERSION || version > ENCODING_VERSION) throw new EncodingVersionError(KIND_NAMES[kind]!, version);
  w.u8(kind);
  w.u8(version);
}

function open(buf: Buffer, kind: number): ByteReader {
  const r = new ByteReader(buf);
  const got = r.u8();
  if (got !== kind) throw new Error(`not a ${KIND_NAMES[kind]} record (first byte ${got})`);
  const version = r.u8();
  if (version < MIN_ENCODING_VERSION || version > ENCODING_VERSION) throw new EncodingVersionError(KIND_NAMES[kind]!, version);
  return r;
}

/** No extensions yet: written empty, skipped when read. */
function writeExt(w: ByteWriter): void {
  w.u32(0);
}

/** State extension keys (see the layout above). */
const EXT_WILL = 1;
const EXT_EXPIRES_AT = 2;
const EXT_STATE_ORIGINS = 3;
/** List extension key. */
const EXT_LIST_ORIGINS = 1;

/** Where each message was published and its id there; `self` for those published on this node. */
function originsExt(msgs: readonly Message[], self: string): Buffer {
  const e = new ByteWriter(4 + msgs.length * (16 + self.length * 3));
  e.u32(msgs.length);
  for (const m of msgs) {
    e.str(m.origin ?? self);
    e.f64(m.origin === undefined ? m.id : (m.originId ?? 0));
  }
  return e.copy();
}

function readOrigins(value: Buffer, msgs: readonly Message[]): void {
  const e = new ByteReader(value);
  const n = e.u32();
  if (n !== msgs.length) throw new Error(`origins for ${n} messages, ${msgs.length} in the record`);
  for (const m of msgs) {
    m.origin = e.str();
    m.originId = e.f64();
  }
}

function stateMessages(state: SessionState): Message[] {
  return [...state.inflight.map((e) => e.delivery.msg), ...state.mqueue.map((d) => d.msg)];
}

function writeStateExt(w: ByteWriter, state: SessionState, self: string | undefined): void {
  const exts: [number, Buffer][] = [];
  if (self !== undefined) exts.push([EXT_STATE_ORIGINS, originsExt(stateMessages(state), self)]);
  if (state.will) {
    const e = new ByteWriter(64 + state.will.msg.payload.length + state.will.msg.topic.length * 3);
    e.f64(state.will.fireAt);
    writeMessage(e, state.will.msg);
    exts.push([EXT_WILL, e.copy()]);
  }
  if (state.expiresAt !== undefined && state.expiresAt > 0) {
    const e = new ByteWriter(8);
    e.f64(state.expiresAt);
    exts.push([EXT_EXPIRES_AT, e.copy()]);
  }
  w.u32(exts.length);
  for (const [key, value] of exts) {
    w.u8(key);
    w.bytes(value);
  }
}

function readStateExt(r: ByteReader, state: SessionState): void {
  if (r.done) return;
  const n = r.u32();
  for (let i = 0; i < n; i++) {
    const key = r.u8();
    const value = r.bytes();
    if (key === EXT_WILL) {
      const e = new ByteReader(value);
      const fireAt = e.f64();
      state.will = { fireAt, msg: readMessage(e, 0) };
    } else if (key === EXT_EXPIRES_AT) state.expiresAt = new ByteReader(value).f64();
    else if (key === EXT_STATE_ORIGINS) readOrigins(value, stateMessages(state));
  }
}

function skipExt(r: ByteReader): void {
  if (r.done) return;
  const n = r.u32();
  for (let i = 0; i < n; i++) {
    r.u8();
    r.bytes();
  }
}

export function writeSubOptions(w: ByteWriter, o: SubOptions): void {
  w.u8(o.qos | (o.nl ? 4 : 0) | (o.rap ? 8 : 0) | (o.rh << 4) | (o.share !== undefined ? 64 : 0) | (o.aclCheck ? 128 : 0));
  w.u32(o.subId);
  if (o.share !== undefined) w.str(o.share);
}

export function readSubOptions(r: ByteReader): SubOptions {
  const f = r.u8();
  const o: SubOptions = { qos: (f & 3) as 0 | 1 | 2, nl: (f & 4) !== 0, rap: (f & 8) !== 0, rh: ((f >> 4) & 3) as 0 | 1 | 2, subId: r.u32() };
  if (f & 64) o.share = r.str();
  if (f & 128) o.aclCheck = true;
  return o;
}

function writeSubs(w: ByteWriter, subs: readonly [string, SubOptions][]): void {
  w.u32(subs.length);
  for (const [filter, o] of subs) {
    w.str(filter);
    writeSubOptions(w, o);
  }
}

function readSubs(r: ByteReader): [string, SubOptions][] {
  const n = r.u32();
  const subs: [string, SubOptions][] = [];
  for (let i = 0; i < n; i++) subs.push([r.str(), readSubOptions(r)]);
  return subs;
}

function writeDeliveries(w: ByteWriter, ds: readonly Delivery[]): void {
  w.u32(ds.length);
  for (const d of ds) writeDelivery(w, d);
}

function readDeliveries(r: ByteReader): Delivery[] {
  const n = r.u32();
  const ds: Delivery[] = [];
  for (let i = 0; i < n; i++) ds.push(readDelivery(r));
  return ds;
}

function writeInflight(w: ByteWriter, e: InflightEntry): void {
  w.u16(e.pid);
  w.u8((e.state === 'pubrel' ? 1 : 0) | (e.held ? 2 : 0));
  w.f64(e.sentAt);
  writeDelivery(w, e.delivery);
}

function readInflight(r: ByteReader): InflightEntry {
  const pid = r.u16();
  const f = r.u8();
  const sentAt = r.f64();
  const e: InflightEntry = { pid, delivery: readDelivery(r), state: f & 1 ? 'pubrel' : 'publish', sentAt };
  if (f & 2) e.held = true;
  return e;
}

function size(state: SessionState): number {
  let n = 256;
  for (const d of state.mqueue) n += 96 + d.msg.payload.length + d.msg.topic.length * 3;
  for (const e of state.inflight) n += 96 + e.delivery.msg.payload.length + e.delivery.msg.topic.length * 3;
  return n;
}

/** A session as it moves between nodes (encode caches and sampling marks stay behind). */
/** `self`: this node's name, when the record goes to another node (the messages' origins go with it). */
export function encodeSessionState(state: SessionState, version = ENCODING_VERSION, self?: string): Buffer {
  const w = new ByteWriter(size(state));
  header(w, STATE, version);
  w.str(state.clientId);
  w.f64(state.createdAt);
  w.u32(state.expiryInterval);
  w.u32(state.nextPacketId);
  writeSubs(w, state.subscriptions);
  w.u32(state.inflight.length);
  for (const e of state.inflight) writeInflight(w, e);
  writeDeliveries(w, state.mqueue);
  w.u32(state.awaitingRel.length);
  for (const [pid, at] of state.awaitingRel) {
    w.u16(pid);
    w.f64(at);
  }
  writeStateExt(w, state, self);
  return w.copy();
}

export function decodeSessionState(buf: Buffer): SessionState {
  if (buf[0] === V8_FORMAT) return deserialize(buf) as SessionState;
  const r = open(buf, STATE);
  const clientId = r.str();
  const createdAt = r.f64();
  const expiryInterval = r.u32();
  const nextPacketId = r.u32();
  const subscriptions = readSubs(r);
  const inflight: InflightEntry[] = [];
  for (let i = 0, n = r.u32(); i < n; i++) inflight.push(readInflight(r));
  const mqueue = readDeliveries(r);
  const awaitingRel: [number, number][] = [];
  for (let i = 0, n = r.u32(); i < n; i++) awaitingRel.push([r.u16(), r.f64()]);
  const state: SessionState = { clientId, createdAt, expiryInterval, subscriptions, inflight, mqueue, awaitingRel, nextPacketId };
  readStateExt(r, state);
  return state;
}

/** Deliveries as a list (what a takeover's stand-in queued); `self` as in encodeSessionState. */
export function encodeDeliveryList(ds: readonly Delivery[], version = ENCODING_VERSION, self?: string): Buffer {
  const w = new ByteWriter(64 + ds.reduce((n, d) => n + 96 + d.msg.payload.length + d.msg.topic.length * 3, 0));
  header(w, LIST, version);
  writeDeliveries(w, ds);
  if (self === undefined) writeExt(w);
  else {
    w.u32(1);
    w.u8(EXT_LIST_ORIGINS);
    w.bytes(
      originsExt(
        ds.map((d) => d.msg),
        self,
      ),
    );
  }
  return w.copy();
}

export function decodeDeliveryList(buf: Buffer): Delivery[] {
  if (buf[0] === V8_FORMAT) return deserialize(buf) as Delivery[];
  const r = open(buf, LIST);
  const ds = readDeliveries(r);
  if (r.done) return ds;
  for (let i = 0, n = r.u32(); i < n; i++) {
    const key = r.u8();
    const value = r.bytes();
    if (key === EXT_LIST_ORIGINS)
      readOrigins(
        value,
        ds.map((d) => d.msg),
      );
  }
  return ds;
}

/** A store's session row. */
export function encodeSessionRow(s: PersistedSession, version = ENCODING_VERSION): Buffer {
  const w = new ByteWriter(128 + s.clientId.length * 3);
  header(w, ROW, version);
  w.str(s.clientId);
  w.f64(s.createdAt);
  w.u32(s.expiryInterval);
  w.f64(s.expiresAt);
  writeSubs(w, s.subscriptions);
  writeExt(w);
  return w.copy();
}

export function decodeSessionRow(buf: Buffer): PersistedSession {
  if (buf[0] === V8_FORMAT) return deserialize(buf) as PersistedSession;
  const r = open(buf, ROW);
  const s: PersistedSession = { clientId: r.str(), createdAt: r.f64(), expiryInterval: r.u32(), expiresAt: r.f64(), subscriptions: readSubs(r) };
  skipExt(r);
  return s;
}

/** A store's subscription row. */
export function encodeSubOptionsRecord(o: SubOptions, version = ENCODING_VERSION): Buffer {
  const w = new ByteWriter(32 + (o.share?.length ?? 0) * 3);
  header(w, OPTIONS, version);
  writeSubOptions(w, o);
  writeExt(w);
  return w.copy();
}

export function decodeSubOptionsRecord(buf: Buffer): SubOptions {
  if (buf[0] === V8_FORMAT) return deserialize(buf) as SubOptions;
  const r = open(buf, OPTIONS);
  const o = readSubOptions(r);
  skipExt(r);
  return o;
}
