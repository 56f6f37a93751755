/** Shared test plumbing: free ports, an in-process broker, MQTT.js clients, bounded waits. */
import type { Server as HttpServer } from 'node:http';
import pino from 'pino';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { createBroker } from '@vireo/broker';
import type { Broker, BrokerConfig } from '@vireo/broker';
import { freePort } from './ports.js';

/** A free port for a server a test starts, which no other test file gets meanwhile (ports.ts). */
export { freePort };

export interface TestBroker {
  broker: Broker;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Starts a broker on a free loopback port with a silent logger (set VIREO_TEST_LOG=debug to see it). */
export async function startBroker(config: BrokerConfig = {}): Promise<TestBroker> {
  const port = await freePort();
  const logger = config.logger ?? pino({ level: process.env.VIREO_TEST_LOG ?? 'silent' });
  const broker = await createBroker({
    nodeName: 'vireo@test',
    ...config,
    logger,
    listeners: config.listeners ?? [{ type: 'tcp', name: 'tcp:default', host: '127.0.0.1', port, maxConnections: 100_000 }],
  });
  const bound = broker.addresses()[0]?.port ?? port;
  return { broker, port: bound, url: `mqtt://127.0.0.1:${bound}`, close: () => broker.close() };
}

/**
 * Connects an MQTT.js client and waits for CONNACK (rejects on error or after `ms`). The default
 * is generous: a node of a loaded CI machine (2 cores, files running at once) can take seconds to
 * answer; a test that means a CONNACK must not come says how long it waits.
 */
export async function connect(url: string, opts: IClientOptions = {}, ms = 15_000): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: ms, ...opts });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.end(true);
      reject(new Error(`connect to ${url} timed out`));
    }, ms);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.once('error', (err) => {
      clearTimeout(timer);
      client.end(true);
      reject(err);
    });
  });
}

export async function endAll(...clients: (MqttClient | undefined)[]): Promise<void> {
  await Promise.all(clients.map((c) => (c ? new Promise<void>((r) => c.end(true, {}, () => r())) : Promise.resolve())));
}

/** Resolves with the next `n` messages a client receives (topic, payload as string, packet); rejects after `ms` (generous, as connect's). */
export function collect(client: MqttClient, n: number, ms = 15_000): Promise<{ topic: string; payload: string; packet: mqtt.IPublishPacket }[]> {
  const got: { topic: string; payload: string; packet: mqtt.IPublishPacket }[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.removeListener('message', on);
      reject(new Error(`expected ${n} messages, got ${got.length}: ${JSON.stringify(got.map((g) => g.topic))}`));
    }, ms);
    const on = (topic: string, payload: Buffer, packet: mqtt.IPublishPacket) => {
      got.push({ topic, payload: payload.toString(), packet });
      if (got.length >= n) {
        clearTimeout(timer);
        client.removeListener('message', on);
        resolve(got);
      }
    };
    client.on('message', on);
  });
}

/**
 * Waits until `cond` is true, polling every `every` ms (for an async condition such as an HTTP
 * call: `every` ms after the previous answer); rejects with `what` after `ms`. The default bound
 * is generous, as connect's: what a test waits for often crosses a process or two on a loaded
 * machine. A test whose point is a time limit passes its own `ms`.
 */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 15_000, every = 10): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Asserts that `holds` stays true for `ms`, checking every 10 ms: how a test says that nothing
 * arrives (a will not published, a message not delivered). Fails at the first moment it breaks.
 */
export async function quietFor(ms: number, holds: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (!(await holds())) throw new Error(`not quiet for ${ms} ms: ${what}`);
    if (Date.now() >= until) return;
    await sleep(Math.min(10, until - Date.now()));
  }
}

/** A client a test hands to withBroker() to be ended with the broker: MQTT.js, or anything with destroy() (RawClient, a socket). */
export type Closable = MqttClient | { destroy(): void };

/**
 * Runs `fn` with a broker started for it; afterwards, whatever happens, ends the clients `fn`
 * put in `clients` and closes the broker.
 */
export async function withBroker<T>(config: BrokerConfig, fn: (tb: TestBroker, clients: Closable[]) => Promise<T>): Promise<T> {
  const tb = await startBroker(config);
  const clients: Closable[] = [];
  try {
    return await fn(tb, clients);
  } finally {
    for (const c of clients) if (!(c instanceof mqtt.MqttClient)) c.destroy();
    await endAll(...clients.filter((c): c is MqttClient => c instanceof mqtt.MqttClient));
    await tb.close();
  }
}

/** `p`'s value, or `fallback` if it has not settled within `ms`; the timer is cleared either way, so it holds no process open. */
export async function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<F>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Closes an HTTP server a test started, its kept-alive connections too. */
export function closeHttp(server: HttpServer): Promise<void> {
  return new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
