/**
 * Session state and deliveries between nodes as structured-clone bytes (v8.serialize):
 * both ends run the same broker, the values are plain (arrays, objects, Buffers), and no
 * second schema has to follow SessionState as it grows. Encoded PUBLISH caches stay behind.
 */
import { deserialize, serialize } from 'node:v8';
import type { Delivery, SessionState } from '@vireo/broker';

function bare(d: Delivery): Delivery {
  return { ...d, msg: { ...d.msg, encoded: undefined } };
}

export function encodeState(state: SessionState): Buffer {
  return serialize({
    ...state,
    mqueue: state.mqueue.map(bare),
    inflight: state.inflight.map((e) => ({ ...e, delivery: bare(e.delivery) })),
  });
}

export function decodeState(bytes: Buffer): SessionState {
  return deserialize(bytes) as SessionState;
}

export function encodeDeliveries(ds: Delivery[]): Buffer {
  return serialize(ds.map(bare));
}

export function decodeDeliveries(bytes: Buffer): Delivery[] {
  return deserialize(bytes) as Delivery[];
}
