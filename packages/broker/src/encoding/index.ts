export { ByteReader, ByteWriter } from './bytes.js';
export { DELIVERY_V1, MESSAGE_V1, encodeMessageRecord, readDelivery, readMessage, writeDelivery, writeMessage } from './records.js';
export {
  ENCODING_VERSION,
  EncodingVersionError,
  MIN_ENCODING_VERSION,
  decodeDeliveryList,
  decodeSessionRow,
  decodeSessionState,
  decodeSubOptionsRecord,
  encodeDeliveryList,
  encodeSessionRow,
  encodeSessionState,
  encodeSubOptionsRecord,
  readSubOptions,
  writeSubOptions,
} from './session.js';
