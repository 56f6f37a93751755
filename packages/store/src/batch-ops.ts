/** The writes a batch carries to the writer thread, and their encoding. */
import type { Message, SubOptions } from '@vireo/broker';
import type { ByteWriter } from './bytes.js';
import { encodeSubOptions, writeMessage } from './records.js';
import { OP } from './schema.js';

/**
 * A queued write, encoded into the batch when the batch leaves, so that nothing is encoded
 * twice. Delivery puts, one per message, are kept apart (see SqliteStore.putD): in `ops`
 * they are a number, their slot.
 */
export type Pending =
  | [typeof OP.putRetained, Message]
  | [typeof OP.deleteRetained, string]
  | [typeof OP.putSession, string, Buffer, [string, SubOptions][]]
  | [typeof OP.updateSession, string, Buffer]
  | [typeof OP.putSubscription, string, string, SubOptions]
  | [typeof OP.deleteSubscription, string, string]
  | [typeof OP.deleteSession, string]
  | [typeof OP.setDeliveryState, string, number, number, number]
  | [typeof OP.deleteDelivery, string, number]
  | [typeof OP.putAwaitingRel, string, number, number]
  | [typeof OP.deleteAwaitingRel, string, number]
  | [typeof OP.putWill, string, number, Message]
  | [typeof OP.deleteWill, string];

export function encodeOp(w: ByteWriter, op: Pending): void {
  w.u8(op[0]);
  switch (op[0]) {
    case OP.putRetained: {
      w.str(op[1].topic);
      const at = w.begin();
      writeMessage(w, op[1]);
      return w.end(at);
    }
    case OP.deleteRetained:
    case OP.deleteSession:
    case OP.deleteWill:
      return w.str(op[1]);
    case OP.putSession:
      w.str(op[1]);
      w.bytes(op[2]);
      w.u32(op[3].length);
      for (const [filter, opts] of op[3]) {
        w.str(filter);
        w.bytes(encodeSubOptions(opts));
      }
      return;
    case OP.updateSession:
      w.str(op[1]);
      return w.bytes(op[2]);
    case OP.putSubscription:
      w.str(op[1]);
      w.str(op[2]);
      return w.bytes(encodeSubOptions(op[3]));
    case OP.deleteSubscription:
      w.str(op[1]);
      return w.str(op[2]);
    case OP.setDeliveryState:
      w.str(op[1]);
      w.f64(op[2]);
      w.u16(op[3]);
      return w.u8(op[4]);
    case OP.deleteDelivery:
      w.str(op[1]);
      return w.f64(op[2]);
    case OP.putAwaitingRel:
      w.str(op[1]);
      w.u16(op[2]);
      return w.f64(op[3]);
    case OP.deleteAwaitingRel:
      w.str(op[1]);
      return w.u16(op[2]);
    case OP.putWill: {
      w.str(op[1]);
      w.f64(op[2]);
      const at = w.begin();
      writeMessage(w, op[3]);
      return w.end(at);
    }
  }
}
