/**
 * Encoding through mqtt-packet's public API (`writeToStream`, `writeToStream.cacheNumbers`).
 * mqtt-packet is pinned to an exact version (package.json); codec.test.ts checks what we
 * rely on, so an upgrade that changes it fails there first.
 */
import mqtt from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';

// mqtt-packet would otherwise pre-build 65 536 two-byte Buffers (~6 MB of heap) the first time
// it encodes; the hot path encodes a PUBLISH once per message and builds acks itself.
mqtt.writeToStream.cacheNumbers = false;

export { mqtt };

/**
 * mqtt-packet's serializer writing into one reused accumulator: `mqtt.generate` would make
 * an EventEmitter and two arrays for every packet it encodes.
 */
class Accumulator {
  private parts: (Buffer | string)[] = [];
  private failure: Error | undefined;

  write(chunk: Buffer | string): boolean {
    this.parts.push(chunk);
    return true;
  }

  destroy(err?: Error): void {
    this.failure = err ?? new Error('packet could not be encoded');
  }

  take(): Buffer {
    const parts = this.parts;
    const failure = this.failure;
    this.parts = [];
    this.failure = undefined;
    if (failure) throw failure;
    let length = 0;
    for (const p of parts) length += typeof p === 'string' ? Buffer.byteLength(p) : p.length;
    const out = Buffer.allocUnsafe(length);
    let pos = 0;
    for (const p of parts) pos += typeof p === 'string' ? out.write(p, pos) : p.copy(out, pos);
    return out;
  }
}

const accumulator = new Accumulator();

/** Encodes one packet; throws if mqtt-packet refuses it. */
export function encode(packet: Packet, opts: { protocolVersion: number }): Buffer {
  mqtt.writeToStream(packet, accumulator as unknown as NodeJS.WritableStream, opts);
  return accumulator.take();
}
