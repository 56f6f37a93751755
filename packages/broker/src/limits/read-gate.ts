/** The part of a connection (transport/connection.ts) whose reads are paused. */
export interface ReadGated {
  readonly socket: { pause(): unknown; resume(): unknown };
  readPaused: number;
  lastRecv: number;
  readonly closed: boolean;
}

/**
 * Why a connection's reads are paused: each reason pauses and releases on its own, and the
 * socket reads again only when none is left. Pausing stops `data` events; the bytes wait in
 * the kernel (then the client's TCP window closes), so what the node buffers stays bounded.
 */
export const PAUSE_RATE = 1;
/** Packets are held behind an async step (an authenticator, a cross-node claim, an async authorizer). */
export const PAUSE_HOLD = 2;

export function pauseReads(conn: ReadGated, why: number): void {
  if (conn.readPaused === 0) conn.socket.pause();
  conn.readPaused |= why;
}

export function resumeReads(conn: ReadGated, why: number): void {
  if ((conn.readPaused & why) === 0) return;
  conn.readPaused &= ~why;
  if (conn.readPaused !== 0 || conn.closed) return;
  // the client was not silent, we were not reading: its keepalive starts afresh
  conn.lastRecv = Date.now();
  conn.socket.resume();
}
