/**
 * Session state and deliveries between nodes: the versioned record encoding of
 * @vireo/broker (docs/architecture.md, "The record encoding"), not tied to one Node.js
 * version. Bytes from a node of an earlier release (V8 serializer output) still decode.
 * Encoded PUBLISH caches stay behind: the layout has no place for them.
 */
import { decodeDeliveryList, decodeSessionState, encodeDeliveryList, encodeSessionState, type Delivery, type SessionState } from '@vireo/broker';

export function encodeState(state: SessionState): Buffer {
  return encodeSessionState(state);
}

export function decodeState(bytes: Buffer): SessionState {
  return decodeSessionState(bytes);
}

export function encodeDeliveries(ds: Delivery[]): Buffer {
  return encodeDeliveryList(ds);
}

export function decodeDeliveries(bytes: Buffer): Delivery[] {
  return decodeDeliveryList(bytes);
}
