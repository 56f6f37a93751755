/**
 * Session state and deliveries between nodes: the versioned record encoding of
 * @vireo/broker (docs/architecture.md, "The record encoding"), not tied to one Node.js
 * version, on links of peer protocol 3 and later (auth.ts). A link that agreed on
 * protocol 2 leads to a node of the release before, which reads only V8 serializer
 * bytes: it gets those. Both forms decode here. Encoded PUBLISH caches stay behind: the
 * layout has no place for them.
 */
import { serialize } from 'node:v8';
import { decodeDeliveryList, decodeSessionState, encodeDeliveryList, encodeSessionState, type Delivery, type SessionState } from '@vireo/broker';
import { PROTOCOL_VERSION } from './auth.js';

/** The first peer protocol whose takeover carries the record encoding. */
export const RECORD_ENCODING_PROTOCOL = 3;

function bare(d: Delivery): Delivery {
  return { ...d, msg: { ...d.msg, encoded: undefined } };
}

/** `protocol`: the version of the link the bytes go out on (undefined: this build's). */
export function encodeState(state: SessionState, protocol = PROTOCOL_VERSION): Buffer {
  if (protocol >= RECORD_ENCODING_PROTOCOL) return encodeSessionState(state);
  return serialize({ ...state, mqueue: state.mqueue.map(bare), inflight: state.inflight.map((e) => ({ ...e, delivery: bare(e.delivery) })) });
}

export function decodeState(bytes: Buffer): SessionState {
  return decodeSessionState(bytes);
}

export function encodeDeliveries(ds: Delivery[], protocol = PROTOCOL_VERSION): Buffer {
  return protocol >= RECORD_ENCODING_PROTOCOL ? encodeDeliveryList(ds) : serialize(ds.map(bare));
}

export function decodeDeliveries(bytes: Buffer): Delivery[] {
  return decodeDeliveryList(bytes);
}
