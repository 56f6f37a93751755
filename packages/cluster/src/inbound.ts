import { nonce, proof, verify } from './auth.js';
import type { Frame, PeerServerStream } from './wire.js';

export interface InboundEvents {
  up(link: Inbound): void;
  frame(link: Inbound, f: Frame): void;
  down(link: Inbound, reason: string): void;
  refused(link: Inbound, node: string, reason: string): void;
}

export interface InboundOptions {
  self: string;
  cookie: string;
  heartbeatMs: number;
  timeoutMs: number;
  /** After the cookie check: a reason to refuse this peer (membership.ts), or undefined. */
  admit?(node: string, join: boolean, addr: string): string | undefined;
}

/** A stream a peer opened to this node: it brings that peer's routes and messages. */
export class Inbound {
  node = '';
  /** Where the peer's own gRPC port is, from its hello. */
  addr = '';
  ready = false;
  private readonly myNonce = nonce();
  private lastSeen = Date.now();
  private readonly timer: NodeJS.Timeout;
  private ended = false;

  constructor(
    private readonly call: PeerServerStream,
    private readonly opts: InboundOptions,
    private readonly events: InboundEvents,
  ) {
    call.on('data', (f: Frame) => this.onFrame(f));
    call.on('error', (err: Error) => this.end(err.message));
    call.on('end', () => this.end('closed by peer'));
    call.on('cancelled', () => this.end('cancelled'));
    call.write({ challenge: { node: opts.self, nonce: this.myNonce } });
    this.timer = setInterval(() => this.tick(), opts.heartbeatMs);
    this.timer.unref();
  }

  get peer(): string {
    return this.call.getPeer();
  }

  close(reason: string): void {
    this.end(reason);
  }

  private onFrame(f: Frame): void {
    this.lastSeen = Date.now();
    if (this.ready) {
      if (!f.heartbeat) this.events.frame(this, f);
      // echo a round-trip probe at once (peer-stats.ts)
      else if (f.heartbeat.probe && !this.ended) this.call.write({ heartbeat: { at: Date.now(), echo: f.heartbeat.probe } });
      return;
    }
    if (!f.hello) return;
    const { node, addr, nonce: theirs, mac } = f.hello;
    if (!verify(this.opts.cookie, 'hello', this.myNonce, node, mac)) {
      this.events.refused(this, node, 'cookie mismatch');
      this.call.write({ refused: { reason: 'cookie mismatch' } });
      this.end('cookie mismatch');
      return;
    }
    const no = this.opts.admit?.(node, f.hello.join === true, addr);
    if (no !== undefined) {
      this.events.refused(this, node, no);
      this.call.write({ refused: { reason: no } });
      this.end(no);
      return;
    }
    this.node = node;
    this.addr = addr;
    this.ready = true;
    this.call.write({ welcome: { node: this.opts.self, mac: proof(this.opts.cookie, 'welcome', theirs, this.opts.self) } });
    this.events.up(this);
  }

  private tick(): void {
    if (Date.now() - this.lastSeen > this.opts.timeoutMs) {
      this.end('heartbeat timeout');
      return;
    }
    if (!this.ended) this.call.write({ heartbeat: { at: Date.now() } });
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    const wasReady = this.ready;
    this.ready = false;
    // end() rather than destroy: a refusal frame already written still goes out
    try {
      this.call.end();
    } catch {
      // already cancelled by the peer
    }
    if (wasReady) this.events.down(this, reason);
  }
}
