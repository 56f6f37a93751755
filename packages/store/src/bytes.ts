// The byte buffer lives with the shared record encoding (docs/architecture.md, "The record encoding").
export { ByteReader, ByteWriter } from '@vireo/broker';
