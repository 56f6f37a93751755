/** Observing MQTT.js clients in pub/sub tests: every message and packet, and how the connection ended. */
import mqtt from 'mqtt';
import type { MqttClient, IClientOptions, IPublishPacket, Packet, IDisconnectPacket } from 'mqtt';
import pino from 'pino';
import { waitFor } from './harness.js';

export interface Got {
  topic: string;
  payload: string;
  packet: IPublishPacket;
}

/** Records every message a client receives, from now on. */
export class Inbox {
  readonly msgs: Got[] = [];
  private readonly on = (topic: string, payload: Buffer, packet: IPublishPacket) => {
    this.msgs.push({ topic, payload: payload.toString(), packet });
  };

  constructor(readonly client: MqttClient) {
    client.on('message', this.on);
  }

  get payloads(): string[] {
    return this.msgs.map((m) => m.payload);
  }

  /** Waits until `pred` holds on the messages received so far (default: at least `n`). */
  async until(n: number | ((msgs: Got[]) => boolean), ms = 5000, what?: string): Promise<Got[]> {
    const pred = typeof n === 'number' ? (m: Got[]) => m.length >= n : n;
    await waitFor(() => pred(this.msgs), what ?? (typeof n === 'number' ? `${n} messages` : 'messages'), ms, 5).catch((err: Error) => {
      throw new Error(`${err.message}; got ${this.msgs.length}: ${JSON.stringify(this.msgs.slice(0, 20).map((m) => [m.topic, m.payload]))}`);
    });
    return this.msgs;
  }

  /** Waits for a message with this payload and returns it. */
  async waitPayload(payload: string, ms = 5000): Promise<Got> {
    await this.until((m) => m.some((x) => x.payload === payload), ms, `payload ${payload}`);
    return this.msgs.find((x) => x.payload === payload)!;
  }

  stop(): void {
    this.client.removeListener('message', this.on);
  }
}

/** Records every packet an MQTT.js client sends and receives. */
export class Wire {
  readonly in: Packet[] = [];
  readonly out: Packet[] = [];
  constructor(client: MqttClient) {
    client.on('packetreceive', (p: Packet) => this.in.push(p));
    client.on('packetsend', (p: Packet) => this.out.push(p));
  }
  cmdsIn(): string[] {
    return this.in.map((p) => p.cmd);
  }
  cmdsOut(): string[] {
    return this.out.map((p) => p.cmd);
  }
}

/** Resolves when the client's connection closes, with the server's DISCONNECT if one came first. */
export function closed(client: MqttClient, ms = 5000): Promise<{ disconnect: IDisconnectPacket | undefined }> {
  return new Promise((resolve, reject) => {
    let disconnect: IDisconnectPacket | undefined;
    const onDisconnect = (p: IDisconnectPacket) => {
      disconnect = p;
    };
    client.on('disconnect', onDisconnect);
    client.on('error', () => {
      /* the close that follows is what we wait for */
    });
    const timer = setTimeout(() => {
      client.removeListener('disconnect', onDisconnect);
      reject(new Error(`connection still open after ${ms} ms`));
    }, ms);
    client.once('close', () => {
      clearTimeout(timer);
      client.removeListener('disconnect', onDisconnect);
      resolve({ disconnect });
    });
  });
}

/** A pino logger that keeps every line in memory, for assertions on what the broker logged. */
export function memoryLogger(level = 'debug'): { logger: import('pino').Logger; lines: Record<string, unknown>[]; has(msg: string): boolean } {
  const lines: Record<string, unknown>[] = [];
  const stream = {
    write(s: string) {
      for (const l of s.split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
    },
  };
  const logger = pino({ level }, stream);
  return { logger, lines, has: (msg: string) => lines.some((l) => l.msg === msg) };
}

/**
 * Connects an MQTT.js client with an Inbox attached before CONNACK, so messages a resumed
 * session sends right after CONNACK are not missed.
 */
export async function connectInbox(url: string, opts: IClientOptions = {}, ms = 5000): Promise<{ client: MqttClient; inbox: Inbox }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: ms, ...opts });
  const inbox = new Inbox(client);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.end(true);
      reject(new Error(`connect to ${url} timed out`));
    }, ms);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    client.once('error', (err) => {
      clearTimeout(timer);
      client.end(true);
      reject(err);
    });
  });
  return { client, inbox };
}
