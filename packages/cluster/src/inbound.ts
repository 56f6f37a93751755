import { BUILD_PROTOCOLS, agree, nonce, proof, sessionKeys, verify, versionMismatch, versionRange, type HandshakeFacts, type ProtocolRange } from './auth.js';
import { Opener, Sealer, decodeFrame, encodeFrame, type RawServerStream } from './seal.js';
import type { Frame } from './wire.js';

export interface InboundEvents {
  up(link: Inbound): void;
  frame(link: Inbound, f: Frame): void;
  down(link: Inbound, reason: string): void;
  /** The handshake failed, or the peer broke the protocol; `node` is the name it gave, if any. */
  refused(link: Inbound, node: string, reason: string): void;
}

export interface InboundOptions {
  self: string;
  cookie: string;
  heartbeatMs: number;
  timeoutMs: number;
  /** How long the whole handshake may take, from the stream's start (frames do not extend it). */
  handshakeMs?: number;
  /** After the cookie check: a reason to refuse this peer (membership.ts), or undefined. */
  admit?(node: string, join: boolean, addr: string): string | undefined;
  /** The protocol versions this node accepts (default: the build's). */
  protocols?: ProtocolRange;
}

/**
 * A stream a peer opened to this node: it brings that peer's routes and messages. The
 * handshake (auth.ts): the dialer's hello, our challenge with our proof, its proof, our
 * sealed welcome. Until then only those frames are taken — anything else, or nothing
 * within the deadline, ends the stream; after it, only sealed frames (seal.ts).
 */
export class Inbound {
  node = '';
  /** Where the peer's own gRPC port is, from its hello. */
  addr = '';
  ready = false;
  /** The protocol version agreed in the handshake. */
  version = 0;
  private readonly myNonce = nonce();
  private stage: 'hello' | 'proof' | 'up' = 'hello';
  private facts: HandshakeFacts | undefined;
  private join = false;
  private sealer: Sealer | undefined;
  private opener: Opener | undefined;
  private lastSeen = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private readonly deadline: NodeJS.Timeout;
  private ended = false;
  /** Called once when the stream ends, whatever the reason (peer-links.ts counts unauthenticated streams). */
  onEnd: (() => void) | undefined;

  constructor(
    private readonly call: RawServerStream,
    private readonly opts: InboundOptions,
    private readonly events: InboundEvents,
  ) {
    call.on('data', (b: Buffer) => this.onData(b));
    call.on('error', (err: Error) => this.failed(err.message));
    call.on('end', () => this.end('closed by peer'));
    call.on('cancelled', () => this.failed('cancelled'));
    const ms = opts.handshakeMs ?? opts.timeoutMs;
    this.deadline = setTimeout(() => this.refuse(`no handshake within ${ms} ms`), ms);
    this.deadline.unref();
  }

  get peer(): string {
    return this.call.getPeer();
  }

  close(reason: string): void {
    this.end(reason);
  }

  private write(b: Buffer | Buffer[]): void {
    if (this.ended) return;
    for (const x of Array.isArray(b) ? b : [b]) this.call.write(x);
  }

  private onData(b: Buffer): void {
    if (this.ended) return;
    this.lastSeen = Date.now();
    if (this.ready) {
      const f = this.opener!.open(b);
      if (f === undefined) return; // a fragment: more follow
      if (typeof f === 'string') return this.refuse(`the peer sent ${f}`, false);
      if (!f.heartbeat) this.events.frame(this, f);
      // echo a round-trip probe at once (peer-stats.ts)
      else if (f.heartbeat.probe) this.write(this.sealer!.seal({ heartbeat: { at: Date.now(), echo: f.heartbeat.probe } }));
      return;
    }
    let f: Frame;
    try {
      f = decodeFrame(b);
    } catch {
      return this.refuse('an undecodable frame before the handshake');
    }
    if (this.stage === 'hello' && f.hello) return this.hello(f.hello);
    if (this.stage === 'proof' && f.proof) return this.proved(f.proof.mac);
    if (this.stage === 'proof' && f.refused) {
      // the dialer found our proof wrong: another cookie (or a relay)
      return this.refuse(f.refused.reason, false);
    }
    this.refuse(`an unexpected frame before the handshake completed (${Object.keys(f).join(',') || 'empty'})`);
  }

  /**
   * The stream broke. Before the handshake that is worth a line: grpc-js cancels a stream
   * whose frame is over `cluster.rpc.max_frame_size` before we see it, and a peer of ours
   * never hangs up mid-handshake without saying why first.
   */
  private failed(reason: string): void {
    if (this.ended) return;
    if (!this.ready)
      this.events.refused(this, this.node, `the stream failed before the handshake completed (${reason}: a frame over cluster.rpc.max_frame_size, or the peer gave up)`);
    this.end(reason);
  }

  private hello(h: NonNullable<Frame['hello']>): void {
    this.node = typeof h.node === 'string' ? h.node.slice(0, 256) : '';
    const ours = this.opts.protocols ?? BUILD_PROTOCOLS;
    const version = agree(h.version_min ?? 0, h.version_max ?? 0, ours);
    if (version === undefined) {
      const theirs = h.version_max ? versionRange(h.version_min ?? 0, h.version_max) : '1';
      return this.refuse(versionMismatch(this.node || 'the peer', theirs, this.opts.self, versionRange(ours.min, ours.max)));
    }
    this.version = version;
    if (!h.nonce || h.nonce.length !== 32) return this.refuse('a hello without a proper nonce');
    this.addr = h.addr ?? '';
    this.join = h.join === true;
    this.facts = { dialer: this.node, acceptor: this.opts.self, dialerNonce: h.nonce, acceptorNonce: this.myNonce, version };
    this.stage = 'proof';
    this.write(encodeFrame({ challenge: { node: this.opts.self, nonce: this.myNonce, mac: proof(this.opts.cookie, 'acceptor', this.facts), version } }));
  }

  private proved(mac: Buffer | undefined): void {
    const facts = this.facts!;
    if (!verify(this.opts.cookie, 'dialer', facts, mac)) return this.refuse('cookie mismatch');
    const no = this.opts.admit?.(this.node, this.join, this.addr);
    if (no !== undefined) return this.refuse(no);
    clearTimeout(this.deadline);
    const keys = sessionKeys(this.opts.cookie, facts);
    this.sealer = new Sealer(keys.acceptorToDialer);
    this.opener = new Opener(keys.dialerToAcceptor);
    this.stage = 'up';
    this.ready = true;
    this.write(this.sealer.seal({ welcome: { node: this.opts.self } }));
    this.timer = setInterval(() => this.tick(), this.opts.heartbeatMs);
    this.timer.unref();
    this.events.up(this);
  }

  /** Refuses the peer (telling it why unless `tell` is false), logs it (peer-links.ts), ends the stream. */
  private refuse(reason: string, tell = true): void {
    if (this.ended) return;
    if (tell) this.write(this.sealer ? this.sealer.seal({ refused: { reason } }) : encodeFrame({ refused: { reason } }));
    this.events.refused(this, this.node, reason);
    this.end(reason);
  }

  private tick(): void {
    if (Date.now() - this.lastSeen > this.opts.timeoutMs) {
      this.end('heartbeat timeout');
      return;
    }
    this.write(this.sealer!.seal({ heartbeat: { at: Date.now() } }));
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.deadline);
    if (this.timer) clearInterval(this.timer);
    const wasReady = this.ready;
    this.ready = false;
    // end() rather than destroy: a refusal frame already written still goes out
    try {
      this.call.end();
    } catch {
      // already cancelled by the peer
    }
    this.onEnd?.();
    if (wasReady) this.events.down(this, reason);
  }
}
