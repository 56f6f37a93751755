/**
 * Interop with clients nobody here wrote: Debian's `mosquitto_pub` / `mosquitto_sub`
 * (package mosquitto-clients) at MQTT 3.1 (MQIsdp), 3.1.1 and 5, QoS 0/1/2 with their
 * debug output showing each handshake, retained messages with -r, and MQTT.js on the other end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { startBroker, connect, endAll, sleep, waitFor } from './harness.js';
import type { TestBroker } from './harness.js';
import { Inbox } from './observe.js';

const PUB = '/usr/bin/mosquitto_pub';
const SUB = '/usr/bin/mosquitto_sub';
const T = { timeout: 30_000 };

function requireMosquittoClients(): void {
  for (const bin of [PUB, SUB]) {
    if (!existsSync(bin)) {
      throw new Error(`${bin} not found: install the Debian package mosquitto-clients (apt-get install -y mosquitto-clients); .ci/run installs it`);
    }
  }
}

interface Proc {
  child: ChildProcess;
  out: string;
  err: string;
  exit: Promise<number | null>;
}

const running = new Set<ChildProcess>();

function start(bin: string, args: string[], ms = 10_000): Proc {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const p: Proc = { child, out: '', err: '', exit: Promise.resolve(null) };
  child.stdout!.on('data', (d: Buffer) => (p.out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (p.err += d.toString()));
  p.exit = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${bin} ${args.join(' ')} did not exit within ${ms} ms\nstdout: ${p.out}\nstderr: ${p.err}`));
    }, ms);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // 'close', not 'exit': the output is complete only once stdout and stderr have ended
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolve(code);
    });
  });
  return p;
}

function killAll(): void {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
}

async function run(bin: string, args: string[]): Promise<Proc> {
  const p = start(bin, args);
  const code = await p.exit;
  assert.equal(code, 0, `${bin} ${args.join(' ')} exited ${code}\nstdout: ${p.out}\nstderr: ${p.err}`);
  return p;
}

/**
 * Starts mosquitto_sub with debug output and waits until the broker has its subscription
 * (its stdout is block-buffered when not a terminal, so the broker is asked, not the output).
 */
async function subscriber(tb: TestBroker, args: string[]): Promise<Proc> {
  const clientId = args[args.indexOf('-i') + 1];
  let subscribed = false;
  const on = (info: { clientId: string }) => {
    if (info.clientId === clientId) subscribed = true;
  };
  tb.broker.on('session.subscribed', on);
  try {
    const p = start(SUB, ['-h', '127.0.0.1', '-p', String(tb.port), '-d', '-F', 'MSG|%t|%q|%r|%p', ...args]);
    const gone = () => p.child.exitCode !== null || p.child.signalCode !== null;
    await waitFor(() => subscribed || gone(), 'mosquitto_sub to subscribe', 15_000).catch(() => undefined);
    if (!subscribed) throw new Error(`mosquitto_sub did not subscribe\nstdout: ${p.out}\nstderr: ${p.err}`);
    // the SUBACK is written in the same tick as the subscription is made
    await sleep(20);
    return p;
  } finally {
    tb.broker.removeListener('session.subscribed', on);
  }
}

const msgLines = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('MSG|'))
    .map((l) => l.slice(4).split('|'));

const VERSIONS = [
  ['mqttv31', 3],
  ['mqttv311', 4],
  ['mqttv5', 5],
] as const;

for (const [flag, protoVer] of VERSIONS) {
  test(`mosquitto_pub → mosquitto_sub and MQTT.js at -V ${flag}: QoS 0/1/2 with full handshakes`, T, async () => {
    requireMosquittoClients();
    const tb = await startBroker();
    const seen: number[] = [];
    tb.broker.on('client.connected', (info) => {
      if (info.clientId.startsWith('mq-')) seen.push(info.protocolVersion);
    });
    let js: MqttClient | undefined;
    try {
      js = await connect(tb.url, { protocolVersion: 5, clientId: 'js' });
      await js.subscribeAsync(`interop/${flag}/#`, { qos: 2 });
      const inbox = new Inbox(js);
      const sub = await subscriber(tb, ['-V', flag, '-i', `mq-sub-${protoVer}`, '-q', '2', '-t', `interop/${flag}/#`, '-C', '3']);
      const pubs: Proc[] = [];
      for (const qos of [0, 1, 2]) {
        pubs.push(
          await run(PUB, [
            '-h',
            '127.0.0.1',
            '-p',
            String(tb.port),
            '-V',
            flag,
            '-i',
            `mq-pub-${qos}`,
            '-d',
            '-q',
            String(qos),
            '-t',
            `interop/${flag}/q${qos}`,
            '-m',
            `hello ${qos}`,
          ]),
        );
      }
      assert.equal(await sub.exit, 0, `mosquitto_sub: ${sub.err}`);
      assert.deepEqual(msgLines(sub.out), [
        [`interop/${flag}/q0`, '0', '0', 'hello 0'],
        [`interop/${flag}/q1`, '1', '0', 'hello 1'],
        [`interop/${flag}/q2`, '2', '0', 'hello 2'],
      ]);
      // the publishers' side of each handshake
      assert.match(pubs[0].out, /received CONNACK \(0\)/);
      assert.doesNotMatch(pubs[0].out, /PUBACK|PUBREC/);
      assert.match(pubs[1].out, /sending PUBLISH \(d0, q1[^]*received PUBACK/);
      assert.match(pubs[2].out, /sending PUBLISH \(d0, q2[^]*received PUBREC[^]*sending PUBREL[^]*received PUBCOMP/);
      // the subscriber's side
      assert.match(sub.out, /received PUBLISH \(d0, q1[^]*sending PUBACK/);
      assert.match(sub.out, /received PUBLISH \(d0, q2[^]*sending PUBREC[^]*received PUBREL[^]*sending PUBCOMP/);
      // MQTT.js saw the same three messages
      await inbox.until(3);
      assert.deepEqual(
        inbox.msgs.map((m) => [m.payload, m.packet.qos]),
        [
          ['hello 0', 0],
          ['hello 1', 1],
          ['hello 2', 2],
        ],
      );
      // the broker spoke the version asked for (3 = MQTT 3.1, protocol name MQIsdp)
      assert.ok(seen.length >= 4 && seen.every((v) => v === protoVer), `protocol versions seen: ${seen}`);
    } finally {
      killAll();
      await endAll(js);
      await tb.close();
    }
  });

  test(`MQTT.js → mosquitto_sub at -V ${flag}: QoS downgraded to the subscription's`, T, async () => {
    requireMosquittoClients();
    const tb = await startBroker();
    let js: MqttClient | undefined;
    try {
      const sub = await subscriber(tb, ['-V', flag, '-i', `mq-sub1-${protoVer}`, '-q', '1', '-t', 'fromjs/+', '-C', '3']);
      js = await connect(tb.url, { protocolVersion: 4, clientId: 'js' });
      for (const qos of [0, 1, 2] as const) await js.publishAsync(`fromjs/q${qos}`, `js ${qos}`, { qos });
      assert.equal(await sub.exit, 0);
      assert.deepEqual(msgLines(sub.out), [
        ['fromjs/q0', '0', '0', 'js 0'],
        ['fromjs/q1', '1', '0', 'js 1'],
        ['fromjs/q2', '1', '0', 'js 2'],
      ]);
    } finally {
      killAll();
      await endAll(js);
      await tb.close();
    }
  });

  test(`retained with mosquitto_pub -r at -V ${flag}: stored, delivered with the retain flag, cleared with -n`, T, async () => {
    requireMosquittoClients();
    const tb = await startBroker();
    const base = ['-h', '127.0.0.1', '-p', String(tb.port), '-V', flag];
    try {
      await run(PUB, [...base, '-i', 'mq-rp1', '-q', '1', '-r', '-t', 'ret/t', '-m', 'first']);
      await run(PUB, [...base, '-i', 'mq-rp2', '-q', '1', '-r', '-t', 'ret/t', '-m', 'kept']);
      const got = await run(SUB, [...base, '-i', 'mq-rs1', '-q', '1', '-t', 'ret/#', '-C', '1', '-F', 'MSG|%t|%q|%r|%p']);
      assert.deepEqual(msgLines(got.out), [['ret/t', '1', '1', 'kept']], 'the newest retained message, flag set');

      await run(PUB, [...base, '-i', 'mq-rp3', '-q', '1', '-r', '-t', 'ret/t', '-n']);
      const sub = await subscriber(tb, [...base.slice(4), '-i', 'mq-rs2', '-q', '1', '-t', 'ret/#', '-C', '1']);
      await run(PUB, [...base, '-i', 'mq-rp4', '-q', '1', '-t', 'ret/t', '-m', 'live']);
      assert.equal(await sub.exit, 0);
      assert.deepEqual(msgLines(sub.out), [['ret/t', '1', '0', 'live']], 'no retained message after -n; the live one has no flag');
    } finally {
      killAll();
      await tb.close();
    }
  });
}
