/**
 * A small MQTT 5 client over WebSocket for the Diagnose page: connect, subscribe,
 * unsubscribe, publish at QoS 0-2, receive at QoS 0-2, keepalive. Just what a person testing
 * a broker by hand needs (no reconnect, no session resumption, no flow control), so the page
 * does not carry a 100 kB library and needs no Web Worker.
 */

const te = new TextEncoder();
const td = new TextDecoder();

export interface ConnectOptions {
  clientId: string;
  username?: string;
  password?: string;
  /** seconds */
  keepalive?: number;
}

export interface Message {
  topic: string;
  payload: Uint8Array;
  qos: number;
  retain: boolean;
}

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

const u16 = (n: number) => [n >> 8, n & 0xff];
const str = (s: string) => {
  const b = te.encode(s);
  return [...u16(b.length), ...b];
};
const packet = (first: number, body: number[]) => new Uint8Array([first, ...varint(body.length), ...body]);

/** Reads fields from one packet's body. */
class Reader {
  private p = 0;
  constructor(private readonly b: Uint8Array) {}
  get left(): number {
    return this.b.length - this.p;
  }
  byte(): number {
    return this.b[this.p++] ?? 0;
  }
  u16(): number {
    return (this.byte() << 8) | this.byte();
  }
  varint(): number {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 4; i++) {
      const b = this.byte();
      n += (b & 0x7f) * mul;
      if (!(b & 0x80)) break;
      mul *= 128;
    }
    return n;
  }
  bytes(n: number): Uint8Array {
    const out = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return out;
  }
  str(): string {
    return td.decode(this.bytes(this.u16()));
  }
  skipProps(): void {
    this.bytes(this.varint());
  }
  rest(): Uint8Array {
    return this.bytes(this.left);
  }
}

export class MqttWs {
  onmessage: (m: Message) => void = () => undefined;
  /** The connection ended: a reason when the broker or the network ended it. */
  onclose: (reason: string | undefined) => void = () => undefined;
  private buf = new Uint8Array(0);
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: number[]) => void; reject: (e: Error) => void }>();
  private ping: ReturnType<typeof setInterval> | undefined;
  private closedBy: string | undefined;
  private connack: { resolve: () => void; reject: (e: Error) => void } | undefined;

  private constructor(private readonly ws: WebSocket) {}

  /** Resolves once the broker accepts the connection (CONNACK 0); rejects with its reason otherwise. */
  static connect(url: string, o: ConnectOptions): Promise<MqttWs> {
    const ws = new WebSocket(url, 'mqtt');
    ws.binaryType = 'arraybuffer';
    const c = new MqttWs(ws);
    const keepalive = o.keepalive ?? 60;
    return new Promise((resolve, reject) => {
      c.connack = { resolve: () => resolve(c), reject };
      ws.onopen = () => {
        const flags = 0x02 | (o.username ? 0x80 : 0) | (o.password ? 0x40 : 0);
        const body = [...str('MQTT'), 5, flags, ...u16(keepalive), 0, ...str(o.clientId)];
        if (o.username) body.push(...str(o.username));
        if (o.password) body.push(...str(o.password));
        c.send(packet(0x10, body));
        c.ping = setInterval(() => c.send(new Uint8Array([0xc0, 0])), (keepalive * 1000) / 2);
      };
      ws.onmessage = (e) => c.receive(new Uint8Array(e.data as ArrayBuffer));
      ws.onerror = () => (c.closedBy ??= 'the WebSocket connection failed');
      ws.onclose = () => c.closed();
    });
  }

  subscribe(topic: string, qos: number): Promise<number> {
    const id = this.id();
    this.send(packet(0x82, [...u16(id), 0, ...str(topic), qos & 3]));
    return this.await(id).then((codes) => codes[0] ?? 0x80);
  }

  async unsubscribe(topic: string): Promise<void> {
    const id = this.id();
    this.send(packet(0xa2, [...u16(id), 0, ...str(topic)]));
    await this.await(id);
  }

  /** Resolves when the broker has it: at once for QoS 0, on PUBACK (1) or PUBCOMP (2). */
  async publish(topic: string, payload: string, qos: number, retain: boolean): Promise<void> {
    const id = qos > 0 ? this.id() : 0;
    this.send(packet(0x30 | (qos << 1) | (retain ? 1 : 0), [...str(topic), ...(qos > 0 ? u16(id) : []), 0, ...te.encode(payload)]));
    if (qos > 0) {
      const [code = 0] = await this.await(id);
      if (code >= 0x80) throw new Error(`the broker refused the message (reason ${code})`);
    }
  }

  end(): void {
    this.send(new Uint8Array([0xe0, 0]));
    this.ws.close();
  }

  private id(): number {
    const id = this.nextId;
    this.nextId = (this.nextId % 65535) + 1;
    return id;
  }

  private await(id: number): Promise<number[]> {
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  private send(b: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(b);
  }

  private receive(chunk: Uint8Array): void {
    const all = new Uint8Array(this.buf.length + chunk.length);
    all.set(this.buf);
    all.set(chunk, this.buf.length);
    let p = 0;
    for (;;) {
      // fixed header: type byte, then 1-4 bytes of remaining length
      let len = 0;
      let mul = 1;
      let i = p + 1;
      let complete = false;
      for (; i < all.length && i < p + 5; i++) {
        len += (all[i]! & 0x7f) * mul;
        mul *= 128;
        if (!(all[i]! & 0x80)) {
          complete = true;
          i++;
          break;
        }
      }
      if (!complete || all.length < i + len) break;
      this.handle(all[p]!, new Reader(all.subarray(i, i + len)));
      p = i + len;
    }
    this.buf = all.slice(p);
  }

  private handle(first: number, r: Reader): void {
    const type = first >> 4;
    switch (type) {
      case 2: {
        r.byte();
        const code = r.byte();
        if (code === 0) this.connack?.resolve();
        else {
          this.connack?.reject(new Error(`the broker refused the connection (reason ${code})`));
          this.ws.close();
        }
        this.connack = undefined;
        break;
      }
      case 3: {
        const qos = (first >> 1) & 3;
        const topic = r.str();
        const id = qos > 0 ? r.u16() : 0;
        r.skipProps();
        this.onmessage({ topic, payload: r.rest(), qos, retain: (first & 1) === 1 });
        if (qos === 1) this.send(packet(0x40, u16(id)));
        if (qos === 2) this.send(packet(0x50, u16(id)));
        break;
      }
      case 4: // PUBACK
      case 7: // PUBCOMP
      case 5: {
        // PUBREC: answer PUBREL unless refused
        const id = r.u16();
        const code = r.left > 0 ? r.byte() : 0;
        if (type === 5 && code < 0x80) {
          this.send(packet(0x62, u16(id)));
          break;
        }
        this.settle(id, [code]);
        break;
      }
      case 6: // PUBREL: complete the exchange
        this.send(packet(0x70, u16(r.u16())));
        break;
      case 9: // SUBACK
      case 11: {
        // UNSUBACK
        const id = r.u16();
        r.skipProps();
        this.settle(id, [...r.rest()]);
        break;
      }
      case 14: {
        const code = r.left > 0 ? r.byte() : 0;
        this.closedBy = `the broker disconnected the client (reason 0x${code.toString(16).padStart(2, '0')})`;
        break;
      }
      default:
        break; // PINGRESP and anything else
    }
  }

  private settle(id: number, codes: number[]): void {
    const p = this.pending.get(id);
    this.pending.delete(id);
    p?.resolve(codes);
  }

  private closed(): void {
    if (this.ping) clearInterval(this.ping);
    const why = this.closedBy;
    this.connack?.reject(new Error(why ?? 'the connection closed before CONNACK'));
    for (const p of this.pending.values()) p.reject(new Error(why ?? 'the connection closed'));
    this.pending.clear();
    this.onclose(why);
  }
}
