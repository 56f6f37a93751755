// Vireo embedded in a Node.js application: one in-process MQTT broker with its own
// authentication and authorization, connection events, and messages published by the app.
//
//   node examples/embed.mjs                 # MQTT on 127.0.0.1:1883
//   PORT=1884 node examples/embed.mjs       # another port
//
// Then, for example:
//   mosquitto_sub -p 1884 -u alice -P wonderland -t 'app/#' -t 'devices/#' -v
//   mosquitto_pub -p 1884 -u alice -P wonderland -t devices/alice/temp -m 21.5
//
// Run it from the repository root after `npm ci` (which builds the packages).
import { createBroker } from '@vireo/broker';
import pino from 'pino';

const port = Number(process.env.PORT ?? 1883);

// Your user store. A real application would look users up in its database.
const users = new Map([
  ['alice', 'wonderland'],
  ['bob', 'builder'],
]);

const broker = await createBroker({
  nodeName: 'vireo@embedded',
  listeners: [{ type: 'tcp', name: 'tcp:default', host: '127.0.0.1', port, maxConnections: 10_000 }],
  // MQTT behaviour: the same options as the `mqtt` section of vireo.yaml, in camelCase (durations in ms)
  mqtt: { maxInflight: 32, sessionExpiryInterval: 3600_000 },
  // the broker logs through pino; pass your own logger (here: warnings and errors only)
  logger: pino({ level: process.env.LOG_LEVEL ?? 'warn' }),
  hooks: {
    // Called on every CONNECT; may be async. Refuse with a v5 reason code:
    // 0x86 bad user name or password, 0x87 not authorized (3.1.1 clients get 4 and 5).
    authenticate: async ({ username, password }) => {
      const expected = username === undefined ? undefined : users.get(username);
      if (expected !== undefined && password?.toString() === expected) return { ok: true };
      return { ok: false, reasonCode: 0x86 };
    },
    // Called for each PUBLISH topic and SUBSCRIBE filter. Anyone may subscribe;
    // a user may publish only under devices/<username>/.
    authorize: (client, action, topic) => action === 'subscribe' || topic.startsWith(`devices/${client.username}/`),
  },
});

broker.on('client.connected', (c) => console.log(`connected ${c.clientId} (user ${c.username}) from ${c.peer}`));
broker.on('client.disconnected', (c, reason) => console.log(`disconnected ${c.clientId}: ${reason}`));
broker.on('message.publish', (m) => {
  // m.from is '' for messages the application (or the broker itself) publishes
  if (m.from) console.log(`${m.from} published ${m.topic}: ${m.payload.toString()}`);
});

// Messages from the application itself: a retained status and a heartbeat every second.
broker.publishMessage({ topic: 'app/status', payload: 'online', qos: 1, retain: true });
const heartbeat = setInterval(() => {
  broker.publishMessage({ topic: 'app/heartbeat', payload: JSON.stringify({ at: new Date().toISOString() }), qos: 1 });
}, 1000);

const { host, port: bound } = broker.addresses()[0];
console.log(`vireo listening on mqtt://${host}:${bound}`);

// Stop cleanly: MQTT 5 clients get DISCONNECT 0x8B (server shutting down), then every connection is closed.
async function shutdown(signal) {
  console.log(`${signal}: closing`);
  clearInterval(heartbeat);
  await broker.close();
  process.exit(0);
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
