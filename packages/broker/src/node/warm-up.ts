import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { encode, FrameParser, type Packet } from '@vireo/mqtt';
import { Broker } from '../broker.js';
import { resolveOptions } from '../options.js';

export interface WarmUpResult {
  /** Messages delivered to the warm-up's subscribers. */
  delivered: number;
  ms: number;
}

const QOS: (0 | 1 | 2)[] = [1, 0, 1, 2, 1, 0, 1, 1];

/**
 * Runs the hot path on synthetic traffic before the node listens: a throwaway in-memory node
 * on a loopback port, and clients of both protocol versions that connect, subscribe (exact
 * and wildcard) and publish QoS 0, 1 and 2 with their acknowledgements, until `messages`
 * were delivered or `budgetMs` passed. V8 optimizes a function only after many calls; without
 * this, the first clients of a fresh node meet unoptimized parse, route and encode code (the
 * first seconds ran several times slower, and a fan-in's queue overflowed then). Nothing is
 * shared with the real node: no sessions, counters, hooks or log lines.
 */
export async function warmUp(messages = 10_000, budgetMs = 1000): Promise<WarmUpResult> {
  const started = Date.now();
  // a free loopback port (port 0 means "no listener" in the options)
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(0, '127.0.0.1', resolve));
  const free = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const broker = new Broker(
    resolveOptions({
      nodeName: 'vireo-warm-up@localhost',
      listeners: [{ type: 'tcp', name: 'tcp:warm-up', host: '127.0.0.1', port: free, maxConnections: 100 }],
      logger: pino({ level: 'silent' }),
      traceDir: path.join(os.tmpdir(), 'vireo-warm-up-trace'),
      sys: { sysMsgInterval: 0, clientConnected: false, clientDisconnected: false },
    }),
  );
  const clients: WarmClient[] = [];
  let delivered = 0;
  try {
    await broker.start();
    const port = broker.addresses()[0]!.port;
    for (const version of [4, 5]) {
      const sub = await WarmClient.open(port, version, `warm-sub-${version}`, clients);
      const pub = await WarmClient.open(port, version, `warm-pub-${version}`, clients);
      if (!sub || !pub) return { delivered, ms: Date.now() - started };
      if (!(await within(sub.request({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `warm/${version}/+`, qos: 2 }] }, 'suback'), budgetMs)))
        return { delivered, ms: Date.now() - started };
      if (!(await within(sub.request({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: `warm/exact/${version}`, qos: 1 }] }, 'suback'), budgetMs)))
        return { delivered, ms: Date.now() - started };
    }
    // the connection path too (CONNECT, SUBSCRIBE, session set-up and teardown): a fresh node
    // often meets a burst of connections first
    for (let batch = 0; batch < 4 && Date.now() - started < budgetMs / 2; batch++) {
      const churn: WarmClient[] = [];
      const opened = await Promise.all(Array.from({ length: 25 }, (_, i) => WarmClient.open(port, i % 2 === 0 ? 4 : 5, `warm-churn-${batch}-${i}`, churn)));
      const subscribed = opened.map((c, i) => c?.request({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `warm/churn/${i}/#`, qos: 1 }] }, 'suback'));
      await within(Promise.all(subscribed), budgetMs);
      for (const c of churn) c.disconnect();
    }
    const payload = Buffer.alloc(64, 0x77);
    let pid = 0;
    while (delivered < messages && Date.now() - started < budgetMs) {
      // a burst per publisher, then wait until its subscriber has it all
      const waits: Promise<void>[] = [];
      for (let c = 0; c < clients.length; c += 2) {
        const sub = clients[c]!;
        const pub = clients[c + 1]!;
        const version = pub.version;
        const before = sub.received;
        for (let i = 0; i < 200; i++) {
          const qos = QOS[i % QOS.length]!;
          pid = (pid % 60_000) + 1;
          const topic = i % 4 === 0 ? `warm/exact/${version}` : `warm/${version}/${i % 16}`;
          pub.send({ cmd: 'publish', topic, payload, qos, retain: false, dup: false, messageId: qos > 0 ? pid : undefined });
        }
        waits.push(sub.until(before + 200));
      }
      // never hang the start-up on it: a burst that does not arrive ends the warm-up
      if (!(await within(Promise.all(waits), budgetMs))) break;
      delivered += 200 * (clients.length / 2);
    }
  } finally {
    for (const c of clients) c.close();
    await broker.close();
  }
  return { delivered, ms: Date.now() - started };
}

/** True if `p` settled within `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A minimal client that answers the broker's QoS 1/2 flow. */
class WarmClient {
  received = 0;
  private waiter: { n: number; resolve: () => void } | undefined;
  private expecting: { cmd: string; resolve: () => void } | undefined;
  private readonly frames: FrameParser;

  private constructor(
    private readonly socket: net.Socket,
    readonly version: number,
  ) {
    this.frames = new FrameParser({ packet: (p) => this.onPacket(p), error: (err) => socket.destroy(err) });
    this.frames.setProtocolVersion(version);
    socket.on('data', (chunk: Buffer) => this.frames.parse(chunk));
    socket.on('error', () => {});
  }

  /** Connects (added to `all` at once, so it is closed whatever happens); undefined if it took too long. */
  static async open(port: number, version: number, clientId: string, all: WarmClient[]): Promise<WarmClient | undefined> {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    const c = new WarmClient(socket, version);
    all.push(c);
    const connack = c.request({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version as 4 | 5, clientId, clean: true, keepalive: 0 }, 'connack');
    return (await within(connack, 2000)) ? c : undefined;
  }

  send(p: Packet): void {
    this.socket.write(encode(p, { protocolVersion: this.version }));
  }

  request(p: Packet, answer: string): Promise<void> {
    return new Promise((resolve) => {
      this.expecting = { cmd: answer, resolve };
      this.send(p);
    });
  }

  until(n: number): Promise<void> {
    if (this.received >= n) return Promise.resolve();
    return new Promise((resolve) => (this.waiter = { n, resolve }));
  }

  private onPacket(p: Packet): void {
    const id = (p as { messageId?: number }).messageId ?? 0;
    switch (p.cmd) {
      case 'publish':
        if (p.qos === 1) this.send({ cmd: 'puback', messageId: id });
        else if (p.qos === 2) this.send({ cmd: 'pubrec', messageId: id });
        this.received++;
        if (this.waiter && this.received >= this.waiter.n) {
          const w = this.waiter;
          this.waiter = undefined;
          w.resolve();
        }
        return;
      case 'pubrec':
        return this.send({ cmd: 'pubrel', messageId: id });
      case 'pubrel':
        return this.send({ cmd: 'pubcomp', messageId: id });
      default:
        if (this.expecting?.cmd === p.cmd) {
          const e = this.expecting;
          this.expecting = undefined;
          e.resolve();
        }
    }
  }

  /** DISCONNECT, then the socket ends: the clean way out, as most clients leave. */
  disconnect(): void {
    this.socket.end(encode({ cmd: 'disconnect' }, { protocolVersion: this.version }));
  }

  close(): void {
    this.socket.destroy();
  }
}
