/**
 * Session state and deliveries between nodes: the versioned record encoding of
 * @vireo/broker (docs/architecture.md, "The record encoding"), not tied to one Node.js
 * version, on links of peer protocol 3 and later (auth.ts). A link that agreed on
 * protocol 2 leads to a node of the release before, which reads only V8 serializer
 * bytes: it gets those. Both forms decode here. Encoded PUBLISH caches stay behind: the
 * layout has no place for them.
 */
import { serialize } from 'node:v8';
import { decodeDeliveryList, decodeSessionState, encodeDeliveryList, encodeSessionState, withoutEncodings, type Delivery, type SessionState } from '@vireo/broker';
import { PROTOCOL_VERSION } from './auth.js';

/** The first peer protocol whose takeover carries the record encoding. */
export const RECORD_ENCODING_PROTOCOL = 3;

function bare(d: Delivery): Delivery {
  return { ...d, msg: withoutEncodings(d.msg) };
}

/**
 * `protocol`: the version of the link the bytes go out on (undefined: this build's). `self`:
 * this node, so the messages' origins go along (a release before skips that extension).
 */
export function encodeState(state: SessionState, protocol = PROTOCOL_VERSION, self?: string): Buffer {
  if (protocol >= RECORD_ENCODING_PROTOCOL) return encodeSessionState(state, undefined, self);
  return serialize({ ...state, mqueue: state.mqueue.map(bare), inflight: state.inflight.map((e) => ({ ...e, delivery: bare(e.delivery) })) });
}

/**
 * Messages that came without their origin (from a release before protocol 4) are marked
 * not known (''), not taken for this node's own (Message.origin).
 */
function unknownOrigins(ds: Iterable<Delivery>): void {
  for (const d of ds) if (d.msg.origin === undefined) d.msg.origin = '';
}

export function decodeState(bytes: Buffer): SessionState {
  const state = decodeSessionState(bytes);
  unknownOrigins(state.mqueue);
  unknownOrigins(state.inflight.map((e) => e.delivery));
  return state;
}

export function encodeDeliveries(ds: Delivery[], protocol = PROTOCOL_VERSION, self?: string): Buffer {
  return protocol >= RECORD_ENCODING_PROTOCOL ? encodeDeliveryList(ds, undefined, self) : serialize(ds.map(bare));
}

export function decodeDeliveries(bytes: Buffer): Delivery[] {
  const ds = decodeDeliveryList(bytes);
  unknownOrigins(ds);
  return ds;
}
