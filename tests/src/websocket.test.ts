/**
 * MQTT over WebSocket (`type: 'ws'`, path /mqtt, subprotocol `mqtt`): MQTT.js over
 * ws://…/mqtt connects, subscribes, publishes and interoperates with TCP clients; packets may
 * be split across or batched in WebSocket messages; plain HTTP gets 426, a wrong path 400,
 * garbage bytes a closed socket; bad MQTT inside WebSocket is handled as on TCP; an oversize
 * packet or WebSocket message is refused without being buffered whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import mqttPacket from 'mqtt-packet';
import type { IConnackPacket, IDisconnectPacket, Packet } from 'mqtt-packet';
import type { BrokerConfig } from '@vireo/broker';
import { startBroker, freePort, connect, collect, endAll, waitFor } from './harness.js';
import type { TestBroker } from './harness.js';
import { captureLog } from './log-capture.js';
import { Bystander, bystanderProblems } from './bystander.js';

interface WsBroker {
  tb: TestBroker;
  tcpUrl: string;
  wsPort: number;
  wsUrl: string;
}

async function startWsBroker(config: BrokerConfig = {}): Promise<WsBroker> {
  const tcpPort = await freePort();
  const wsPort = await freePort();
  const tb = await startBroker({
    ...config,
    listeners: [
      { type: 'tcp', name: 'tcp:default', host: '127.0.0.1', port: tcpPort, maxConnections: 1000 },
      { type: 'ws', name: 'ws:default', host: '127.0.0.1', port: wsPort, maxConnections: 1000, path: '/mqtt' },
    ],
  });
  const ws = tb.broker.addresses().find((a) => a.type === 'ws');
  assert.ok(ws, 'the ws listener is up');
  return { tb, tcpUrl: tb.url, wsPort: ws.port, wsUrl: `ws://127.0.0.1:${ws.port}/mqtt` };
}

/** A WebSocket client speaking raw MQTT bytes: what it receives is parsed with mqtt-packet. */
class RawWs {
  readonly packets: Packet[] = [];
  readonly parseErrors: Error[] = [];
  closeCode: number | undefined;
  private readonly parser = mqttPacket.parser({ protocolVersion: 5 });
  private readonly closed: Promise<void>;

  private readonly peer: string;

  private constructor(readonly ws: WebSocket) {
    const sock = (ws as unknown as { _socket: net.Socket })._socket;
    this.peer = `${sock.localAddress}:${sock.localPort}`;
    this.parser.on('packet', (p: Packet) => this.packets.push(p));
    this.parser.on('error', (e: Error) => this.parseErrors.push(e));
    ws.on('message', (data: Buffer) => this.parser.parse(data));
    ws.on('error', () => {});
    this.closed = new Promise((resolve) =>
      ws.once('close', (code: number) => {
        this.closeCode = code;
        resolve();
      }),
    );
  }

  static open(url: string, protocols: string | string[] = 'mqtt', ms = 5000): Promise<RawWs> {
    const ws = new WebSocket(url, protocols);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error('ws open timed out'));
      }, ms);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(new RawWs(ws));
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      ws.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        ws.terminate();
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { statusCode: res.statusCode }));
      });
    });
  }

  send(data: Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary: true });
  }

  async next(cmd: Packet['cmd'], ms = 5000): Promise<Packet> {
    await waitFor(() => this.packets.some((p) => p.cmd === cmd), `${cmd} over ws (got ${this.packets.map((p) => p.cmd).join(',') || 'nothing'})`, ms);
    return this.packets.splice(
      this.packets.findIndex((p) => p.cmd === cmd),
      1,
    )[0];
  }

  async waitClose(ms = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('ws still open')), ms)))]);
    clearTimeout(timer);
  }

  /** Our address as the broker sees it (the peer in its log lines). */
  get localPeer(): string {
    return this.peer;
  }

  destroy(): void {
    this.ws.terminate();
  }
}

const gen = (p: Packet, v: 4 | 5 = 5) => mqttPacket.generate(p, { protocolVersion: v });

test('MQTT.js over ws://…/mqtt subscribes and publishes, and interoperates with TCP clients (v4 and v5)', { timeout: 30_000 }, async () => {
  const { tb, tcpUrl, wsUrl } = await startWsBroker();
  const clients: Awaited<ReturnType<typeof connect>>[] = [];
  try {
    for (const protocolVersion of [4, 5] as const) {
      const wsSub = await connect(wsUrl, { protocolVersion, clientId: `ws-sub-${protocolVersion}` });
      const wsPub = await connect(wsUrl, { protocolVersion, clientId: `ws-pub-${protocolVersion}` });
      const tcpSub = await connect(tcpUrl, { protocolVersion, clientId: `tcp-sub-${protocolVersion}` });
      const tcpPub = await connect(tcpUrl, { protocolVersion, clientId: `tcp-pub-${protocolVersion}` });
      clients.push(wsSub, wsPub, tcpSub, tcpPub);
      const topic = `ws${protocolVersion}`;
      await wsSub.subscribeAsync(`${topic}/#`, { qos: 2 });
      await tcpSub.subscribeAsync(`${topic}/#`, { qos: 2 });
      const atWs = collect(wsSub, 6);
      const atTcp = collect(tcpSub, 6);
      for (const qos of [0, 1, 2] as const) {
        await wsPub.publishAsync(`${topic}/from-ws`, `w${qos}`, { qos });
        await tcpPub.publishAsync(`${topic}/from-tcp`, `t${qos}`, { qos });
      }
      const expected = [0, 1, 2].flatMap((q) => [
        [`${topic}/from-ws`, `w${q}`, q],
        [`${topic}/from-tcp`, `t${q}`, q],
      ]);
      const sorted = (xs: unknown[][]) => xs.map((x) => JSON.stringify(x)).sort();
      assert.deepEqual(sorted((await atWs).map((m) => [m.topic, m.payload, m.packet.qos])), sorted(expected), 'the ws subscriber got both');
      assert.deepEqual(sorted((await atTcp).map((m) => [m.topic, m.payload, m.packet.qos])), sorted(expected), 'the tcp subscriber got both');
      // a retained message published over TCP reaches a new WebSocket subscriber
      await tcpPub.publishAsync(`${topic}/kept`, 'kept', { qos: 1, retain: true });
      const late = await connect(wsUrl, { protocolVersion });
      clients.push(late);
      const r = collect(late, 1);
      await late.subscribeAsync(`${topic}/kept`, { qos: 1 });
      const [m] = await r;
      assert.equal(m.payload, 'kept');
      assert.equal(m.packet.retain, true);
      // from 8 KiB a payload is written after its own header (the Buffer shared by all
      // subscribers): over WebSocket one packet in two messages, which the client joins
      const big = `B${protocolVersion}`.repeat(10_000);
      const gotBig = new Promise<string>((resolve) => wsSub.on('message', (t, payload) => t === `${topic}/big` && resolve(payload.toString())));
      await tcpPub.publishAsync(`${topic}/big`, big, { qos: 1 });
      assert.equal(await gotBig, big);
    }
    const stats = tb.broker.listenerStats();
    assert.equal(stats.find((l) => l.name === 'ws:default')?.connections, 6, 'the ws clients are counted on the ws listener');
    assert.equal(stats.find((l) => l.name === 'tcp:default')?.connections, 4);
  } finally {
    await endAll(...clients);
    await tb.close();
  }
});

test('ws subprotocols: mqtt and mqttv3.1 are accepted, an unknown one is not; packets may be split across or batched in ws messages', { timeout: 20_000 }, async () => {
  const { tb, wsUrl } = await startWsBroker();
  const open: RawWs[] = [];
  try {
    const a = await RawWs.open(wsUrl, 'mqtt');
    open.push(a);
    assert.equal(a.ws.protocol, 'mqtt');
    const b = await RawWs.open(wsUrl, ['mqttv3.1']);
    open.push(b);
    assert.equal(b.ws.protocol, 'mqttv3.1');
    await assert.rejects(RawWs.open(wsUrl, ['graphql-ws']), 'a client that offers only another subprotocol is not accepted');

    // a CONNECT split over two ws messages, then SUBSCRIBE + PINGREQ + PUBLISH in one message
    const connectBytes = gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'raw-ws', clean: true, keepalive: 30 });
    a.send(connectBytes.subarray(0, 5));
    a.send(connectBytes.subarray(5));
    const ack = (await a.next('connack')) as IConnackPacket;
    assert.equal(ack.reasonCode, 0);
    a.send(
      Buffer.concat([
        gen({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'batch/#', qos: 1 }] }),
        gen({ cmd: 'pingreq' }),
        gen({ cmd: 'publish', topic: 'batch/x', payload: Buffer.from('hello'), qos: 1, messageId: 2, retain: false, dup: false }),
      ]),
    );
    await a.next('suback');
    await a.next('pingresp');
    await a.next('puback');
    const msg = await a.next('publish');
    assert.equal((msg as mqttPacket.IPublishPacket).topic, 'batch/x');
    assert.equal(String((msg as mqttPacket.IPublishPacket).payload), 'hello');
    assert.deepEqual(a.parseErrors, []);
  } finally {
    open.forEach((c) => c.destroy());
    await tb.close();
  }
});

test('plain HTTP on the ws port gets 426, a wrong path 400, garbage a closed socket — and the listener keeps serving', { timeout: 20_000 }, async () => {
  const log = captureLog('warn');
  const { tb, wsPort, wsUrl, tcpUrl } = await startWsBroker({ logger: log.logger });
  const bystander = await Bystander.start(wsUrl, { protocolVersion: 5 });
  try {
    for (const path of ['/', '/mqtt', '/index.html']) {
      const res = await fetch(`http://127.0.0.1:${wsPort}${path}`);
      assert.equal(res.status, 426, `GET ${path}`);
      await res.text();
    }
    await assert.rejects(RawWs.open(`ws://127.0.0.1:${wsPort}/other`), (err: { statusCode?: number }) => err.statusCode === 400);
    // not HTTP at all: an MQTT CONNECT sent to the ws port
    const raw = net.connect({ port: wsPort, host: '127.0.0.1' });
    raw.on('error', () => {});
    let answer = '';
    raw.on('data', (d) => (answer += d.toString('latin1')));
    await new Promise((r) => raw.once('connect', r));
    raw.write(gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'lost', clean: true, keepalive: 30 }, 4));
    await new Promise((r) => raw.once('close', r));
    assert.match(answer, /^HTTP\/1\.1 400/);
    // the ws and tcp listeners still serve
    const c = await connect(wsUrl, { protocolVersion: 4 });
    const d = await connect(tcpUrl, { protocolVersion: 4 });
    await endAll(c, d);
    assert.deepEqual(bystanderProblems(await bystander.stop(10), 10), []);
    assert.deepEqual(
      log.lines.filter((l) => l.level >= 50),
      [],
      'no error in the broker log',
    );
  } finally {
    await bystander.destroy();
    await tb.close();
  }
});

test('malformed MQTT inside WebSocket closes that connection with a Parse failed line; oversize packets and ws messages are refused', { timeout: 20_000 }, async () => {
  const log = captureLog('warn');
  const max = 4096;
  const { tb, wsUrl } = await startWsBroker({ logger: log.logger, mqtt: { maxPacketSize: max } });
  const bystander = await Bystander.start(wsUrl, { protocolVersion: 4 });
  const open: RawWs[] = [];
  const connectV5 = (clientId: string) => gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean: true, keepalive: 30 });
  try {
    // invalid UTF-8 in a topic
    const bad = await RawWs.open(wsUrl);
    open.push(bad);
    bad.send(connectV5('ws-bad'));
    await bad.next('connack');
    const frame = Buffer.from([0x30, 0x07, 0x00, 0x04, 0x61, 0x2f, 0xc3, 0x28, 0x00]);
    bad.send(frame);
    const disc = (await bad.next('disconnect')) as IDisconnectPacket;
    assert.equal(disc.reasonCode, 0x81);
    await bad.waitClose();
    const line = log.find('Parse failed').find((l) => l.clientid === 'ws-bad');
    assert.ok(line, 'Parse failed logged');
    assert.equal(line.peer, bad.localPeer);
    assert.equal(line.frame_data, frame.toString('hex'));
    assert.match(String(line.reason), /UTF-8/);

    // a remaining length over the limit, in a small ws message: refused at once
    const big = await RawWs.open(wsUrl);
    open.push(big);
    big.send(connectV5('ws-big'));
    await big.next('connack');
    big.send(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x20, 0x00, 0x01, 0x61]));
    assert.equal(((await big.next('disconnect')) as IDisconnectPacket).reasonCode, 0x95);
    await big.waitClose();

    // a ws frame announcing 16 MB, of which only the first bytes come: refused on its header
    // (1009 Message Too Big), not buffered until the whole message is there
    const huge = await RawWs.open(wsUrl);
    open.push(huge);
    huge.send(connectV5('ws-huge'));
    await huge.next('connack');
    const header = Buffer.alloc(14);
    header[0] = 0x82; // FIN, binary
    header[1] = 0x80 | 127; // masked, 64-bit length
    header.writeBigUInt64BE(16n * 1024n * 1024n, 2);
    // mask key 0 leaves the payload as is
    (huge.ws as unknown as { _socket: net.Socket })._socket.write(Buffer.concat([header, Buffer.from([0x30, 0x7f, 0x00, 0x01, 0x61])]));
    await huge.waitClose(3000);
    assert.equal(huge.closeCode, 1009, 'closed as Message Too Big');
    await waitFor(() => tb.broker.connection('ws-huge') === undefined, 'ws-huge gone', 2000);

    assert.deepEqual(bystanderProblems(await bystander.stop(10), 10), [], 'a ws client beside them was not disturbed');
    assert.deepEqual(
      log.lines.filter((l) => l.level >= 50),
      [],
      'no error in the broker log',
    );
  } finally {
    open.forEach((c) => c.destroy());
    await bystander.destroy();
    await tb.close();
  }
});
