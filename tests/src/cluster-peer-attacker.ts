/**
 * A stranger on the cluster port, for the attack tests: a real gRPC client (and server,
 * for a relay) speaking Vireo's peer protocol frame by frame, with whatever cookie, nonce
 * or bytes the test chooses.
 */
import * as grpc from '@grpc/grpc-js';
import { RAW_PEER_SERVICE, RawPeerClient, decodeFrame, encodeFrame, isSealed, type Frame, type RawClientStream, type RawServerStream } from '@vireo/cluster';
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
