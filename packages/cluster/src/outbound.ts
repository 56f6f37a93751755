import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { nonce, proof, verify } from './auth.js';
import { CHANNEL_OPTIONS, PeerService, type Frame, type PeerStream } from './wire.js';

export interface OutboundEvents {
  /** Handshake done: `node` proved the cookie. */
  up(link: Outbound): void;
  /** The stream ended (after `up` or not). */
  down(link: Outbound, reason: string): void;
  /** The peer refused us or failed our check. */
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
}

/**
 * The stream this node opens to one peer address: everything this node sends to that
 * peer (routes, forwarded and retained messages) goes through it, in order.
 */
export class Outbound {
  node: string | undefined;
  ready = false;
  private readonly client: grpc.Client & { Link(): PeerStream };
  private readonly call: PeerStream;
  private readonly myNonce = nonce();
  private lastSeen = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    readonly addr: string,
    private readonly opts: OutboundOptions,
    private readonly events: OutboundEvents,
  ) {
    this.client = new PeerService(addr, opts.credentials ?? grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    this.call = this.client.Link();
    this.call.on('data', (f: Frame) => this.onFrame(f));
    this.call.on('error', (err: Error) => this.end(err.message));
    this.call.on('end', () => this.end('closed by peer'));
  }

  send(frame: Frame): void {
    if (!this.ended) this.call.write(frame);
  }

  close(reason: string): void {
    this.end(reason);
  }

  /** Says goodbye: half-closes the stream so frames already written still arrive. */
  leave(): void {
    if (this.ended || !this.ready) return this.end('shutdown');
    this.call.write({ leave: {} });
    this.call.end();
    this.end('shutdown', false);
  }

  private onFrame(f: Frame): void {
    this.lastSeen = Date.now();
    if (f.challenge) {
      this.node = f.challenge.node;
      const mac = proof(this.opts.cookie, 'hello', f.challenge.nonce, this.opts.self);
      this.send({ hello: { node: this.opts.self, addr: this.opts.advertise, nonce: this.myNonce, mac, join: this.opts.join ?? false } });
    } else if (f.welcome) {
      if (!verify(this.opts.cookie, 'welcome', this.myNonce, f.welcome.node, f.welcome.mac)) {
        this.events.refused(this, 'the peer could not prove the cluster cookie');
        this.end('cookie mismatch');
        return;
      }
      this.node = f.welcome.node;
      this.ready = true;
      this.timer = setInterval(() => this.tick(), this.opts.heartbeatMs);
      this.timer.unref();
      this.events.up(this);
    } else if (f.refused) {
      this.events.refused(this, f.refused.reason);
      this.end(`refused: ${f.refused.reason}`);
    } else if (f.heartbeat?.echo) {
      this.events.rtt?.(this, performance.now() - f.heartbeat.echo);
    }
    // other heartbeats only refresh lastSeen
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
    if (this.timer) clearInterval(this.timer);
    if (cancel) {
      this.call.cancel();
      this.client.close();
    } else {
      // the half-closed stream drains first; the channel goes once it had time to
      setTimeout(() => this.client.close(), 500).unref();
    }
    this.events.down(this, reason);
  }
}
