// node scripts/bench-access.mjs [connects] [messages] [rounds]
// What access control costs, in process, same run, alternating (the machine's noise shows in the spread):
//  1. CONNECTs one after another: no hooks, vireo's hooks with authentication off (bans only),
//     and with a built-in user (pbkdf2-sha256, 4096 iterations);
//  2. QoS 0 publishes through one subscriber: no ACL vs a 6-rule ACL (the topic matched by rule 4).
// Prints each round and the medians.
import net from 'node:net';
import pino from 'pino';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { createBroker } from '@vireo/broker';
import { AccessControl, Acl, MemoryRecordTables, DEFAULT_HASH } from '@vireo/access';

const [C = '400', M = '30000', R = '5'] = process.argv.slice(2);
const logger = pino({ level: 'silent' });
const free = () => new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
const med = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const access = (enable, loadRules) =>
  new AccessControl({
    authentication: enable ? [{ mechanism: 'password_based', backend: 'built_in_database', userIdType: 'username', algorithm: DEFAULT_HASH }] : [],
    authorization: { noMatch: 'deny', denyAction: 'ignore', sources: loadRules ? [{ type: 'file', load: loadRules }] : [] },
    tables: new MemoryRecordTables(),
    logger,
  });
async function broker(hooks) {
  const port = await free();
  const b = await createBroker({ nodeName: 'b@x', logger, hooks, listeners: [{ type: 'tcp', name: 'tcp:default', host: '127.0.0.1', port, maxConnections: 100000 }] });
  return { b, port };
}
function report(title, res, unit) {
  console.log(title);
  for (const [k, v] of Object.entries(res)) console.log(`  ${k.padEnd(14)} ${v.map((x) => x.toFixed(0)).join(' ')} ${unit}; median ${med(v).toFixed(0)}`);
}

// 1. CONNECT
function connectOnce(port, i, user) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `c${i}`, keepalive: 60, ...(user ? { username: 'u', password: Buffer.from('pw') } : {}) }));
    });
    s.once('data', (d) => { s.destroy(); d[0] === 0x20 && d[3] === 0 ? resolve() : reject(new Error(`refused ${d[3]}`)); });
    s.once('error', reject);
  });
}
async function connects(port, user) {
  const t = process.hrtime.bigint();
  for (let i = 0; i < +C; i++) await connectOnce(port, i, user);
  return +C / (Number(process.hrtime.bigint() - t) / 1e9);
}
const none = await broker({});
const off = access(false);
const bOff = await broker(off.hooks());
const on = access(true);
await on.users.add('u', 'pw', false);
const bOn = await broker(on.hooks());
const cres = { 'no hooks': [], 'authn off': [], 'authn pbkdf2': [] };
for (let r = 0; r < +R; r++) {
  cres['no hooks'].push(await connects(none.port, false));
  cres['authn off'].push(await connects(bOff.port, false));
  cres['authn pbkdf2'].push(await connects(bOn.port, true));
}
report(`CONNECTs one after another (${C} per round)`, cres, 'connects/s');
for (const x of [none, bOff, bOn]) await x.b.close();

// 2. PUBLISH
const rules = [
  { permission: 'allow', who: { username: 'admin' }, action: 'subscribe', topics: ['$SYS/#'] },
  { permission: 'deny', action: 'subscribe', topics: ['$SYS/#', { eq: '#' }] },
  { permission: 'allow', who: { clientid: 'other' }, action: 'publish', topics: ['x/#'] },
  { permission: 'allow', action: 'publish', topics: ['devices/%c/#'] },
  { permission: 'allow', action: 'subscribe', topics: ['devices/+/t'] },
  { permission: 'deny' },
];
async function pair(hooks) {
  const { b, port } = await broker(hooks);
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'sub' });
  await sub.subscribeAsync('devices/+/t');
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'p1' });
  return { b, sub, pub };
}
async function publishes({ sub, pub }) {
  let got = 0;
  const done = new Promise((r) => { const on = () => { if (++got === +M) { sub.off('message', on); r(); } }; sub.on('message', on); });
  const t = process.hrtime.bigint();
  for (let i = 0; i < +M; i++) pub.publish('devices/p1/t', 'x', { qos: 0 });
  await done;
  return +M / (Number(process.hrtime.bigint() - t) / 1e9);
}
const plain = await pair({});
const withAcl = await pair(access(false, () => Acl.compile(rules, 'bench')).hooks());
const pres = { 'no ACL': [], '6-rule ACL': [] };
for (let r = 0; r < +R; r++) {
  pres['no ACL'].push(await publishes(plain));
  pres['6-rule ACL'].push(await publishes(withAcl));
}
report(`QoS 0 publishes through one subscriber (${M} per round)`, pres, 'msg/s');
for (const s of [plain, withAcl]) { await s.sub.endAsync(); await s.pub.endAsync(); await s.b.close(); }
