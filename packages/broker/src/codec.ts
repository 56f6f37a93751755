import Module, { createRequire } from 'node:module';
import type * as MqttPacket from 'mqtt-packet';

/**
 * mqtt-packet, loaded for the hot path. Its parser and writer call a `debug` logger on every
 * step of every packet; with logging off those calls still cost about 40% of parse time
 * (measured: 1.3 µs → 0.73 µs per PUBLISH). When `DEBUG` is not set, debug would print
 * nothing anyway, so mqtt-packet is loaded against a no-op `debug`, and the real one is
 * put back for everyone else. If mqtt-packet was already loaded (say by MQTT.js in the
 * same process), that copy is used as it is.
 */
const require = createRequire(import.meta.url);
const codecPath = require.resolve('mqtt-packet');

function load(): typeof MqttPacket {
  if (process.env.DEBUG || require.cache[codecPath]) return require('mqtt-packet') as typeof MqttPacket;
  const debugPath = createRequire(codecPath).resolve('debug');
  const saved = require.cache[debugPath];
  const stub = new Module(debugPath);
  const noop = Object.assign(() => {}, { enabled: false });
  stub.exports = () => noop;
  stub.loaded = true;
  require.cache[debugPath] = stub;
  try {
    return require('mqtt-packet') as typeof MqttPacket;
  } finally {
    if (saved) require.cache[debugPath] = saved;
    else delete require.cache[debugPath];
  }
}

const mqtt = load();
// mqtt-packet would otherwise pre-build 65 536 two-byte Buffers (~6 MB of heap) the first time
// it encodes; our hot path encodes a PUBLISH once per message and builds acks itself.
mqtt.writeToStream.cacheNumbers = false;
export default mqtt;

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
export function encode(packet: MqttPacket.Packet, opts: { protocolVersion: number }): Buffer {
  mqtt.writeToStream(packet, accumulator as unknown as NodeJS.WritableStream, opts);
  return accumulator.take();
}
