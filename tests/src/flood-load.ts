/**
 * Real load for overload tests, in its own process: `node flood-load.js <port> [publishers]`
 * opens one subscriber to `load/#` (it reads and discards) and N publishers that write QoS 0
 * PUBLISHes to `load/<i>` as fast as their sockets take them (waiting for `drain`), until
 * the process is killed.
 */
import net from 'node:net';
import mqttPacket from 'mqtt-packet';

const port = Number(process.argv[2]);
const publishers = Number(process.argv[3] ?? 4);
const enc = (p: mqttPacket.Packet) => mqttPacket.generate(p, { protocolVersion: 4 });

function client(id: string, after: (s: net.Socket) => void): void {
  const s = net.connect({ port, host: '127.0.0.1' }, () => {
    s.setNoDelay(true);
    s.write(enc({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: id, clean: true, keepalive: 0 }));
    after(s);
  });
  s.on('error', () => process.exit(0));
  s.on('close', () => process.exit(0));
}

client('flood-sub', (s) => {
  s.write(enc({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'load/#', qos: 0 }] }));
  s.on('data', () => undefined);
});

for (let i = 0; i < publishers; i++) {
  const batch = Buffer.concat(Array.from({ length: 500 }, (_, n) => enc({ cmd: 'publish', topic: `load/${i}`, payload: Buffer.alloc(64, n), qos: 0, retain: false, dup: false })));
  client(`flood-pub-${i}`, (s) => {
    s.on('data', () => undefined);
    const pump = () => {
      while (s.write(batch));
      s.once('drain', pump);
    };
    pump();
  });
}
