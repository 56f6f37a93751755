/**
 * A stranger on the cluster port, for the attack tests: a real gRPC client (and server,
 * for a relay) speaking Vireo's peer protocol frame by frame, with whatever cookie, nonce
 * or bytes the test chooses.
 */
import * as grpc from '@grpc/grpc-js';
import {
  Opener,
  PROTOCOL_VERSION,
  RAW_PEER_SERVICE,
  RawPeerClient,
  Sealer,
  decodeFrame,
  encodeFrame,
  isSealed,
  nonce,
  proof,
  sessionKeys,
  type Frame,
  type HandshakeFacts,
  type RawClientStream,
  type RawServerStream,
} from '@vireo/cluster';
import { waitFor } from './harness.js';

/** One stream a stranger opened to a node's cluster port. */
export class PeerStream {
  /** Raw frames received, in order. */
  readonly received: Buffer[] = [];
  ended = false;
  private readonly client: RawPeerClient;
  readonly call: RawClientStream;

  constructor(port: number) {
    this.client = new RawPeerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1 });
    this.call = this.client.Link();
    this.call.on('data', (b: Buffer) => this.received.push(b));
    this.call.on('error', () => (this.ended = true));
    this.call.on('end', () => (this.ended = true));
  }

  send(f: Frame | Buffer): void {
    this.call.write(Buffer.isBuffer(f) ? f : encodeFrame(f));
  }

  /** The plain frames received (sealed ones are opaque to a stranger). */
  frames(): Frame[] {
    return this.received.filter((b) => !isSealed(b)).map((b) => decodeFrame(b));
  }

  async next(pred: (f: Frame) => boolean, what: string, ms = 10_000): Promise<Frame> {
    await waitFor(() => this.frames().some(pred), what, ms);
    return this.frames().find(pred)!;
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

/**
 * A man in the middle: a gRPC server the victim dials; each stream it accepts is relayed,
 * frame by frame, to `target`'s cluster port. `tap` sees every frame and may inject.
 */
export class Relay {
  readonly server = new grpc.Server();
  port = 0;
  readonly streams: { fromDialer: RawServerStream; toAcceptor: PeerStream; dialerFrames: Buffer[]; acceptorFrames: Buffer[] }[] = [];

  constructor(private readonly target: number) {
    this.server.addService(RAW_PEER_SERVICE, {
      Link: (call: RawServerStream) => {
        const up = new PeerStream(this.target);
        const s = { fromDialer: call, toAcceptor: up, dialerFrames: [] as Buffer[], acceptorFrames: [] as Buffer[] };
        this.streams.push(s);
        call.on('data', (b: Buffer) => {
          s.dialerFrames.push(b);
          up.call.write(b);
        });
        up.call.on('data', (b: Buffer) => {
          s.acceptorFrames.push(b);
          call.write(b);
        });
        const cut = () => {
          try {
            call.end();
          } catch {
            // gone
          }
          up.close();
        };
        up.call.on('end', cut);
        up.call.on('error', cut);
        call.on('end', cut);
        call.on('error', cut);
        call.on('cancelled', cut);
      },
    });
  }

  async listen(): Promise<number> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return this.port;
  }

  close(): void {
    for (const s of this.streams) s.toAcceptor.close();
    this.server.forceShutdown();
  }
}

/**
 * A peer that knows the cookie (an insider, or a stranger who stole it): it completes
 * the handshake both ways like a node — dials, and accepts the node's dial back — and
 * can then send sealed frames such as admin requests; `replies` collects the sealed frames
 * the node sends it.
 */
export class CookiePeer {
  readonly name: string;
  readonly server = new grpc.Server();
  port = 0;
  /** Frames the node sent on its stream to us, opened. */
  readonly replies: Frame[] = [];
  private out: PeerStream | undefined;
  private sealer: Sealer | undefined;

  constructor(
    private readonly cookie: string,
    name: string,
  ) {
    this.name = name;
    this.server.addService(RAW_PEER_SERVICE, {
      Link: (call: RawServerStream) => {
        const myNonce = nonce();
        let opener: Opener | undefined;
        let facts: HandshakeFacts | undefined;
        call.on('data', (b: Buffer) => {
          if (opener) {
            const f = opener.open(b);
            if (f && typeof f !== 'string') this.replies.push(f);
            return;
          }
          const f = decodeFrame(b);
          if (f.hello) {
            facts = { dialer: f.hello.node, acceptor: this.name, dialerNonce: f.hello.nonce, acceptorNonce: myNonce, version: PROTOCOL_VERSION };
            call.write(encodeFrame({ challenge: { node: this.name, nonce: myNonce, mac: proof(this.cookie, 'acceptor', facts), version: PROTOCOL_VERSION } }));
          } else if (f.proof && facts) {
            const keys = sessionKeys(this.cookie, facts);
            opener = new Opener(keys.dialerToAcceptor);
            for (const w of new Sealer(keys.acceptorToDialer).seal({ welcome: { node: this.name } })) call.write(w);
          }
        });
        call.on('error', () => undefined);
      },
    });
  }

  /** Listens for the node's dial back, then dials `port` and completes the handshake. */
  async join(port: number): Promise<void> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const s = new PeerStream(port);
    this.out = s;
    const myNonce = nonce();
    s.send({ hello: { node: this.name, addr: `127.0.0.1:${this.port}`, nonce: myNonce, version_min: PROTOCOL_VERSION, version_max: PROTOCOL_VERSION } });
    const ch = (await s.next((f) => f.challenge !== undefined, 'a challenge')).challenge!;
    const facts = { dialer: this.name, acceptor: ch.node, dialerNonce: myNonce, acceptorNonce: ch.nonce, version: ch.version! };
    s.send({ proof: { mac: proof(this.cookie, 'dialer', facts) } });
    this.sealer = new Sealer(sessionKeys(this.cookie, facts).dialerToAcceptor);
    await waitFor(() => s.received.some((b) => isSealed(b)), 'the welcome');
  }

  /** Sends an admin request; resolves with the node's reply. */
  async call(id: number, op: string, args: unknown): Promise<NonNullable<Frame['admin_reply']>> {
    for (const b of this.sealer!.seal({ admin_request: { id, op, args: Buffer.from(JSON.stringify(args)) } })) this.out!.call.write(b);
    await waitFor(() => this.replies.some((f) => f.admin_reply?.id === id), `the reply to ${op}`, 15_000);
    return this.replies.find((f) => f.admin_reply?.id === id)!.admin_reply!;
  }

  close(): void {
    this.out?.close();
    this.server.forceShutdown();
  }
}
