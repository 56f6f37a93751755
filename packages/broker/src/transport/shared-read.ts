import net from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Plain TCP connections read into one buffer shared by all of them (net.Socket's `onread`)
 * instead of Node's stream path, which allocates a 64 KiB buffer for every read, shrinks it,
 * wraps it in a Buffer and pushes it through the Readable machinery to a 'data' listener. At
 * a steady message rate that was about a third of the broker's user CPU (docs/performance.md,
 * "Reads into one shared buffer"). Sharing one buffer is safe because the event loop reads
 * one socket at a time and hands the bytes over synchronously; the reader copies what it keeps
 * (FrameParser's `transient` mode). TLS and WebSocket connections keep the stream path.
 */
const SHARED = Buffer.allocUnsafe(64 * 1024);

/** Where a shared-read socket's bytes go; `chunk` is valid only during the call. */
export interface ReadTarget {
  onData(chunk: Buffer): void;
}

const TARGET = Symbol('vireo.read-target');
const EARLY = Symbol('vireo.early-bytes');
type SharedRead = net.Socket & { [TARGET]: ReadTarget | undefined; [EARLY]: Buffer[] | undefined };

/** Node's own handle of a socket (not in its types; what a server-made socket wraps). */
type WithHandle = { _handle: object | null };

/**
 * The same connection as `raw` (a socket its server just accepted with `pauseOnConnect`),
 * reading into the shared buffer from now on; `raw` is left without a handle and destroyed,
 * which closes nothing and stops its server from counting it. Reads have started: attach a
 * target (`setReadTarget`) in the same turn, or pause the socket; bytes that arrive before a
 * target are copied and kept for it. Undefined if `raw` has no handle (it closed).
 */
export function sharedReadSocket(raw: net.Socket): net.Socket | undefined {
  const handle = (raw as unknown as WithHandle)._handle;
  if (handle === null || raw.destroyed) return undefined;
  (raw as unknown as WithHandle)._handle = null;
  // eslint-disable-next-line prefer-const -- the callback needs the socket it is given to
  let socket: SharedRead;
  const options = {
    handle,
    readable: true,
    writable: true,
    onread: { buffer: SHARED, callback: (n: number, buf: Uint8Array): void => deliver(socket, n, buf as Buffer) },
  };
  socket = new net.Socket(options as net.SocketConstructorOpts) as SharedRead;
  socket[TARGET] = undefined;
  socket[EARLY] = undefined;
  // flowing, so 'end' is emitted at EOF though nobody listens for 'data'
  socket.resume();
  raw.destroy();
  return socket;
}

function deliver(socket: SharedRead, n: number, buf: Buffer): void {
  const target = socket[TARGET];
  if (target !== undefined) target.onData(buf.subarray(0, n));
  else (socket[EARLY] ??= []).push(Buffer.from(buf.subarray(0, n)));
}

/** Whether `socket` came from `sharedReadSocket` (then its bytes come through `setReadTarget`, not 'data'). */
export function isSharedRead(socket: Duplex): boolean {
  return TARGET in socket;
}

/**
 * Sends `socket`'s bytes to `target` from now on. Any that came before go first, on the next
 * tick: the target's owner may still be wiring it up in this one.
 */
export function setReadTarget(socket: Duplex, target: ReadTarget): void {
  const s = socket as SharedRead;
  s[TARGET] = target;
  const early = s[EARLY];
  s[EARLY] = undefined;
  if (early !== undefined) process.nextTick(() => early.forEach((chunk) => target.onData(chunk)));
}
