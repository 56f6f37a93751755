// node scripts/bench-access.mjs [connects] [messages] [rounds]
// What access control costs, in process, same run, alternating (the machine's noise shows in the spread):
//  1. CONNECTs one after another: no hooks; an empty authentication list (bans only); a built-in
//     user (pbkdf2-sha256, 4096 iterations); the http authenticator against a service in a child
//     process, cache off (every CONNECT asks: miss) and on (the same credentials: hit); jwt
//     (HS256 secret, ES256 public key);
//  2. a reconnect storm: 200 CONNECTs of built-in users at once, per pbkdf2 work factor;
//  3. QoS 0 publishes through one subscriber: no ACL; a 6-rule ACL; and the delivery-time check:
//     the same 2-rule ACL (deny subscribe secret/#, allow) with a subscriber on data/# (not
//     marked) vs on # (marked: every delivery is checked).
// Prints each round and the medians.
import net from 'node:net';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import pino from 'pino';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { SignJWT } from 'jose';
import { createBroker } from '@vireo/broker';
import { AccessControl, Acl, MemoryRecordTables, DEFAULT_HASH } from '@vireo/access';

const [C = '400', M = '30000', R = '5'] = process.argv.slice(2);
const logger = pino({ level: 'silent' });
const free = () => new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
const med = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const builtIn = (algorithm = DEFAULT_HASH) => ({ mechanism: 'password_based', backend: 'built_in_database', userIdType: 'username', algorithm });
const access = (authentication, loadRules) =>
  new AccessControl({
    authentication,
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
  for (const [k, v] of Object.entries(res)) console.log(`  ${k.padEnd(16)} ${v.map((x) => x.toFixed(0)).join(' ')} ${unit}; median ${med(v).toFixed(0)}`);
}

// an authentication service in its own process, answering allow (as a real one would, on other cores)
const svc = spawn(process.execPath, ['-e', `require('http').createServer((q, s) => { q.resume(); q.on('end', () => s.writeHead(200, {'content-type': 'application/json'}).end('{"result":"allow"}')); }).listen(0, '127.0.0.1', function () { console.log(this.address().port); });`], { stdio: ['ignore', 'pipe', 'inherit'] });
const svcPort = await new Promise((r) => svc.stdout.once('data', (d) => r(Number(String(d).trim()))));
const httpAuthn = (cache) => ({ mechanism: 'password_based', backend: 'http', method: 'post', url: `http://127.0.0.1:${svcPort}/auth`, headers: {}, body: { username: '${username}', password: '${password}' }, requestTimeout: 5000, poolSize: 8, cache: { enable: cache, maxSize: 100000, ttl: 60000 } });
const secret = 'bench-secret-bench-secret-bench!';
const es = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const hsToken = await new SignJWT({ sub: 'u' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('2h').sign(Buffer.from(secret));
const esToken = await new SignJWT({ sub: 'u' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('2h').sign(es.privateKey);
const jwtAuthn = (key) => ({ mechanism: 'jwt', from: 'password', key, verifyClaims: {}, aclClaimName: 'acl' });

// 1. CONNECT
function connectOnce(port, i, password) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `c${i}`, keepalive: 60, ...(password ? { username: 'u', password: Buffer.from(password) } : {}) }));
    });
    s.once('data', (d) => { s.destroy(); d[0] === 0x20 && d[3] === 0 ? resolve() : reject(new Error(`refused ${d[3]}`)); });
    s.once('error', reject);
  });
}
async function connects(port, password) {
  const t = process.hrtime.bigint();
  for (let i = 0; i < +C; i++) await connectOnce(port, i, password);
  return +C / (Number(process.hrtime.bigint() - t) / 1e9);
}
const variants = [
  ['no hooks', {}, undefined],
  ['authn off', access([]).hooks(), undefined],
  ['built-in pbkdf2', null, 'pw'],
  ['http miss', access([httpAuthn(false)]).hooks(), 'pw'],
  ['http hit', access([httpAuthn(true)]).hooks(), 'pw'],
  ['jwt HS256', access([jwtAuthn({ kind: 'secret', secret, base64: false })]).hooks(), hsToken],
  ['jwt ES256', access([jwtAuthn({ kind: 'public_key', pem: es.publicKey.export({ type: 'spki', format: 'pem' }) })]).hooks(), esToken],
];
const db = access([builtIn()]);
await db.users.add('u', 'pw', false);
variants[2][1] = db.hooks();
const brokers = [];
for (const [name, hooks, password] of variants) brokers.push({ name, password, ...(await broker(hooks)) });
const cres = Object.fromEntries(variants.map(([n]) => [n, []]));
for (const x of brokers) await connects(x.port, x.password); // warm-up, not counted
for (let r = 0; r < +R; r++) for (const x of brokers) cres[x.name].push(await connects(x.port, x.password));
report(`CONNECTs one after another (${C} per round)`, cres, 'connects/s');
for (const x of brokers) await x.b.close();
svc.kill();

// 2. a reconnect storm of built-in users, per work factor
async function storm(port, n) {
  const t = process.hrtime.bigint();
  await Promise.all(Array.from({ length: n }, (_, i) => connectOnce(port, i, 'pw')));
  return Number(process.hrtime.bigint() - t) / 1e6;
}
const S = 200;
const sres = {};
for (const iterations of [1024, 4096, 16384]) {
  const a = access([builtIn({ name: 'pbkdf2', mac_fun: 'sha256', iterations, dk_length: 32 })]);
  await a.users.add('u', 'pw', false);
  const x = await broker(a.hooks());
  sres[`pbkdf2 ${iterations}`] = [];
  for (let r = 0; r < +R; r++) sres[`pbkdf2 ${iterations}`].push(await storm(x.port, S));
  await x.b.close();
}
report(`Reconnect storm: ${S} CONNECTs of a built-in user at once (time to the last CONNACK)`, sres, 'ms');

// 3. PUBLISH
const rules = [
  { permission: 'allow', who: { username: 'admin' }, action: 'subscribe', topics: ['$SYS/#'] },
  { permission: 'deny', action: 'subscribe', topics: ['$SYS/#', { eq: '#' }] },
  { permission: 'allow', who: { clientid: 'other' }, action: 'publish', topics: ['x/#'] },
  { permission: 'allow', action: 'publish', topics: ['devices/%c/#'] },
  { permission: 'allow', action: 'subscribe', topics: ['devices/+/t'] },
  { permission: 'deny' },
];
async function pair(hooks, filter = 'devices/+/t') {
  const { b, port } = await broker(hooks);
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'sub' });
  await sub.subscribeAsync(filter);
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'p1' });
  return { b, sub, pub };
}
async function publishes({ sub, pub }, topic = 'devices/p1/t') {
  let got = 0;
  const done = new Promise((r) => { const on = () => { if (++got === +M) { sub.off('message', on); r(); } }; sub.on('message', on); });
  const t = process.hrtime.bigint();
  for (let i = 0; i < +M; i++) pub.publish(topic, 'x', { qos: 0 });
  await done;
  return +M / (Number(process.hrtime.bigint() - t) / 1e9);
}
const plain = await pair({});
const withAcl = await pair(access([], () => Acl.compile(rules, 'bench')).hooks());
const denyRules = () => Acl.compile([{ permission: 'deny', action: 'subscribe', topics: ['secret/#'] }, { permission: 'allow' }], 'bench');
const unmarked = await pair(access([], denyRules).hooks(), 'data/#');
const marked = await pair(access([], denyRules).hooks(), '#');
const pres = { 'no ACL': [], '6-rule ACL': [], 'deny, data/#': [], 'deny, # (check)': [] };
for (const [x, t] of [[plain], [withAcl], [unmarked, 'data/x'], [marked, 'data/x']]) await publishes(x, t); // warm-up, not counted
for (let r = 0; r < +R; r++) {
  pres['no ACL'].push(await publishes(plain));
  pres['6-rule ACL'].push(await publishes(withAcl));
  pres['deny, data/#'].push(await publishes(unmarked, 'data/x'));
  pres['deny, # (check)'].push(await publishes(marked, 'data/x'));
}
report(`QoS 0 publishes through one subscriber (${M} per round)`, pres, 'msg/s');
const perMsg = (rate) => 1e9 / rate;
console.log(`  delivery-time check: ${(perMsg(med(pres['deny, # (check)'])) - perMsg(med(pres['deny, data/#']))).toFixed(0)} ns more per delivery (medians)`);
for (const s of [plain, withAcl, unmarked, marked]) { await s.sub.endAsync(); await s.pub.endAsync(); await s.b.close(); }

// the delivery-time check alone, in a tight loop (network noise out): what one delivery through
// a marked subscription costs more, with the 2-rule ACL above and EMQX's default ACL
{
  const time = (f, n) => { const t = process.hrtime.bigint(); for (let i = 0; i < n; i++) f(i); return Number(process.hrtime.bigint() - t) / n; };
  const emqxDefault = [
    { permission: 'allow', who: { username: { re: '^dashboard$' } }, action: 'subscribe', topics: ['$SYS/#'] },
    { permission: 'allow', who: { ipaddr: '127.0.0.1' }, topics: ['$SYS/#', '#'] },
    { permission: 'deny', action: 'subscribe', topics: ['$SYS/#', { eq: '#' }, { eq: '+/#' }] },
    { permission: 'deny', action: 'subscribe', topics: ['secret/#'] },
    { permission: 'allow' },
  ];
  const cres2 = {};
  for (const [name, rules] of [['2-rule ACL', denyRules()], ['EMQX default + deny', Acl.compile(emqxDefault, 'bench')]]) {
    const a = access([], () => rules);
    const { b, port } = await broker(a.hooks());
    a.attach(b);
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'sub', username: 'u' });
    const check = a.hooks().authorizeDelivery;
    const topics = Array.from({ length: 64 }, (_, i) => `data/${i}/x`);
    cres2[name] = [];
    for (let r = 0; r < +R; r++) cres2[name].push(time((i) => check('sub', topics[i & 63]), 1_000_000));
    await c.endAsync();
    await b.close();
  }
  report('Delivery-time check per message (hooks.authorizeDelivery, 1,000,000 calls per round)', cres2, 'ns');
}
