import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { BUILD_PROTOCOLS, nonce, proof, sessionKeys, verify, versionMismatch, versionRange, type HandshakeFacts, type ProtocolRange } from './auth.js';
import { Opener, RawPeerClient, Sealer, decodeFrame, encodeFrame, isSealed, type RawClientStream } from './seal.js';
import { CHANNEL_OPTIONS, type Frame } from './wire.js';

export interface OutboundEvents {
  /** Handshake done: `node` proved the cookie. */
  up(link: Outbound): void;
  /** The stream ended (after `up` or not). */
  down(link: Outbound, reason: string): void;
  /** The peer refused us, failed our check, or broke the protocol. */
  refused(link: Outbound, reason: string): void;
  /** A heartbeat probe came back from the peer after `ms`. */
  rtt?(link: Outbound, ms: number): void;
}

export interface OutboundOptions {
  self: string;
  /** Our own gRPC address as peers can dial it. */
  advertise: string;
  cookie: string;
  heartbeatMs: number;
  timeoutMs: number;
  /** Say in the hello that this is an explicit join (membership.ts). */
  join?: boolean;
  /** mTLS (`cluster.rpc.driver = ssl`); plain TCP otherwise. */
  credentials?: grpc.ChannelCredentials;
  /** The largest frame taken from the peer (`cluster.rpc.max_frame_size`); unlimited when absent. */
  maxFrameBytes?: number;
  /** The protocol versions this node offers (default: the build's). */
  protocols?: ProtocolRange;
  /** `cluster.rpc.max_pending_bytes`: past this many unsent bytes the stream is `congested` (0: never). */
  maxPendingBytes?: number;
}

/**
 * The stream this node opens to one peer address: everything this node sends to that
 * peer (routes, forwarded and retained messages) goes through it, in order. The handshake
 * (auth.ts): our hello, the peer's challenge with its proof — checked before we prove
 * anything —, our proof, its sealed welcome; then every frame is sealed (seal.ts).
 */
export class Outbound {
  node: string | undefined;
  ready = false;
  /** The protocol version the peer chose in the handshake. */
  version = 0;
  private readonly client: RawPeerClient;
  private readonly call: RawClientStream;
  private readonly myNonce = nonce();
  private stage: 'hello' | 'proof' | 'up' = 'hello';
  private sealer: Sealer | undefined;
  private opener: Opener | undefined;
  private lastSeen = Date.now();
  private timer: NodeJS.Timeout | undefined;
  /** The handshake's own deadline: fixed at the start, frames do not extend it. */
  private readonly deadline: NodeJS.Timeout;
  private ended = false;
  /** Resolves once the peer has closed its side of the stream (it read everything we wrote before our end), or the call failed. */
  readonly finished: Promise<void>;
  /**
   * Bytes written to the stream that gRPC has not yet handed on (its write callback has not
   * come): they pile up here when the peer stops reading (HTTP/2 flow control), e.g. a frozen
   * or overloaded node. `lens` holds each write's size, in order, for its callback.
   */
  pendingBytes = 0;
  private lens: number[] = [];
  private lensHead = 0;
  /** Set when `congested` answered true; cleared, with `onDrain`, once half the bound is gone. */
  private overBound = false;
  /** Called when a congested stream has drained to half its bound (forwards held back can go). */
  onDrain: (() => void) | undefined;

  constructor(
    readonly addr: string,
    private readonly opts: OutboundOptions,
    private readonly events: OutboundEvents,
  ) {
    const options = opts.maxFrameBytes === undefined ? CHANNEL_OPTIONS : { ...CHANNEL_OPTIONS, 'grpc.max_receive_message_length': opts.maxFrameBytes };
    this.client = new RawPeerClient(addr, opts.credentials ?? grpc.credentials.createInsecure(), options);
    this.call = this.client.Link();
    this.call.on('data', (b: Buffer) => this.onData(b));
    this.call.on('error', (err: Error) => this.end(err.message));
    this.call.on('end', () => this.end('closed by peer'));
    this.finished = new Promise((resolve) => {
      this.call.once('end', resolve);
      this.call.once('error', resolve);
      this.call.once('status', resolve);
    });
    const ours = opts.protocols ?? BUILD_PROTOCOLS;
    this.call.write(
      encodeFrame({
        hello: { node: opts.self, addr: opts.advertise, nonce: this.myNonce, join: opts.join ?? false, version_min: ours.min, version_max: ours.max },
      }),
    );
    this.deadline = setTimeout(() => this.end(`handshake not completed within ${opts.timeoutMs} ms`), opts.timeoutMs);
    this.deadline.unref();
  }

  send(frame: Frame): void {
    if (this.ended || !this.sealer) return;
    for (const b of this.sealer.seal(frame)) {
      this.pendingBytes += b.length;
      this.lens.push(b.length);
      this.call.write(b, this.written);
    }
  }

  /** Whether the peer has more than `maxPendingBytes` of ours waiting: forwards should wait (grpc-cluster.ts). */
  congested(): boolean {
    const max = this.opts.maxPendingBytes ?? 0;
    if (max <= 0 || this.pendingBytes <= max) return false;
    this.overBound = true;
    return true;
  }

  /** A write's callback: gRPC took it on (callbacks come in write order). */
  private readonly written = (): void => {
    this.pendingBytes -= this.lens[this.lensHead] ?? 0;
    this.lens[this.lensHead++] = 0;
    if (this.lensHead === this.lens.length) {
      this.lens = [];
      this.lensHead = 0;
    } else if (this.lensHead > 1024 && this.lensHead * 2 > this.lens.length) {
      this.lens = this.lens.slice(this.lensHead);
      this.lensHead = 0;
    }
    if (this.overBound && this.pendingBytes <= (this.opts.maxPendingBytes ?? 0) / 2) {
      this.overBound = false;
      this.onDrain?.();
    }
  };

  close(reason: string): void {
    this.end(reason);
  }

  /** Says goodbye: half-closes the stream so frames already written still arrive. */
  leave(): void {
    if (this.ended || !this.ready) return this.end('shutdown');
    this.send({ leave: {} });
    this.call.end();
    this.end('shutdown', false);
  }

  private onData(b: Buffer): void {
    if (this.ended) return;
    this.lastSeen = Date.now();
    if (this.stage === 'up' || (this.stage === 'proof' && isSealed(b))) {
      const f = this.opener!.open(b);
      if (f === undefined) return; // a fragment: more follow
      if (typeof f === 'string') return this.broken(`the peer sent ${f}`);
      if (this.stage === 'proof') return f.welcome ? this.welcomed() : this.broken('the peer sent a sealed frame other than welcome');
      if (f.refused) {
        this.events.refused(this, f.refused.reason);
        this.end(`refused: ${f.refused.reason}`);
      } else if (f.heartbeat?.echo) {
        this.events.rtt?.(this, performance.now() - f.heartbeat.echo);
      }
      // other heartbeats only refresh lastSeen
      return;
    }
    let f: Frame;
    try {
      f = decodeFrame(b);
    } catch {
      return this.broken('the peer sent an undecodable frame in the handshake');
    }
    if (f.refused) {
      this.events.refused(this, f.refused.reason);
      this.end(`refused: ${f.refused.reason}`);
    } else if (this.stage === 'hello' && f.challenge) {
      this.challenged(f.challenge);
    } else {
      this.broken('the peer sent an unexpected frame in the handshake');
    }
  }

  private challenged(c: NonNullable<Frame['challenge']>): void {
    this.node = c.node;
    const ours = this.opts.protocols ?? BUILD_PROTOCOLS;
    const mine = versionRange(ours.min, ours.max);
    if (!c.version || !c.mac) {
      // a protocol 1 node speaks first, without a proof
      return this.refuse(`${versionMismatch(c.node || 'the peer', '1', this.opts.self, mine)} (upgrade every node)`);
    }
    if (c.version < ours.min || c.version > ours.max) {
      return this.refuse(versionMismatch(c.node || 'the peer', `${c.version} (its choice)`, this.opts.self, mine));
    }
    this.version = c.version;
    const facts: HandshakeFacts = { dialer: this.opts.self, acceptor: c.node, dialerNonce: this.myNonce, acceptorNonce: c.nonce ?? Buffer.alloc(0), version: c.version };
    if (!verify(this.opts.cookie, 'acceptor', facts, c.mac)) {
      // we prove nothing to a peer that could not prove itself
      return this.refuse('cookie mismatch');
    }
    const keys = sessionKeys(this.opts.cookie, facts);
    this.sealer = new Sealer(keys.dialerToAcceptor);
    this.opener = new Opener(keys.acceptorToDialer);
    this.stage = 'proof';
    this.call.write(encodeFrame({ proof: { mac: proof(this.opts.cookie, 'dialer', facts) } }));
  }

  private welcomed(): void {
    clearTimeout(this.deadline);
    this.stage = 'up';
    this.ready = true;
    this.timer = setInterval(() => this.tick(), this.opts.heartbeatMs);
    this.timer.unref();
    this.events.up(this);
  }

  /** We refuse the peer: it hears why, we log it (peer-links.ts), the stream ends. */
  private refuse(reason: string): void {
    if (!this.ended) this.call.write(encodeFrame({ refused: { reason } }));
    this.events.refused(this, reason);
    this.end(reason);
  }

  /** The peer broke the protocol (a relay, a stranger, a corrupted stream): logged, the stream ends. */
  private broken(reason: string): void {
    this.events.refused(this, reason);
    this.end(reason);
  }

  private tick(): void {
    if (Date.now() - this.lastSeen > this.opts.timeoutMs) {
      this.end('heartbeat timeout');
      return;
    }
    this.send({ heartbeat: { at: Date.now(), probe: performance.now() } });
  }

  private end(reason: string, cancel = true): void {
    if (this.ended) return;
    this.ended = true;
    this.ready = false;
    clearTimeout(this.deadline);
    if (this.timer) clearInterval(this.timer);
    if (cancel) {
      // a refusal written just before still goes out: the channel closes a moment later
      this.call.end();
      setTimeout(() => {
        this.call.cancel();
        this.client.close();
      }, 100).unref();
    } else {
      // the half-closed stream drains first; the channel goes once it had time to
      setTimeout(() => this.client.close(), 500).unref();
    }
    this.events.down(this, reason);
  }
}
