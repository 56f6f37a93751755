/**
 * A well-behaved pair of MQTT.js clients that keeps exchanging QoS 1 messages while a test
 * abuses the broker over other connections: the publisher sends a numbered message every
 * `everyMs`, the subscriber records what arrives. `stop()` waits until every message the
 * publisher got a PUBACK for has arrived (or `ms` passes) and reports what happened.
 */
import type { MqttClient } from 'mqtt';
import { connect, endAll, waitFor } from './harness.js';

export interface BystanderReport {
  /** Sequence numbers the publisher got a PUBACK for, in PUBACK order. */
  acked: number[];
  /** Sequence numbers the subscriber received, in arrival order. */
  received: number[];
  /** Publishes that failed (error in the callback). */
  publishErrors: number;
  /** 'close'/'offline'/'error' events seen on either client while running. */
  incidents: string[];
}

export class Bystander {
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  readonly acked: number[] = [];
  readonly received: number[] = [];
  readonly incidents: string[] = [];
  private publishErrors = 0;
  private stopping = false;

  private constructor(
    readonly pub: MqttClient,
    readonly sub: MqttClient,
    readonly topic: string,
  ) {}

  static async start(url: string, opts: { protocolVersion?: 4 | 5; everyMs?: number; topic?: string } = {}): Promise<Bystander> {
    const protocolVersion = opts.protocolVersion ?? 5;
    const topic = opts.topic ?? `bystander/${Math.random().toString(36).slice(2)}`;
    const sub = await connect(url, { protocolVersion, clientId: `${topic.replace(/\W/g, '-')}-sub`, keepalive: 30 });
    let pub: MqttClient;
    try {
      pub = await connect(url, { protocolVersion, clientId: `${topic.replace(/\W/g, '-')}-pub`, keepalive: 30 });
    } catch (err) {
      await endAll(sub);
      throw err;
    }
    const b = new Bystander(pub, sub, topic);
    for (const [name, c] of [
      ['pub', pub],
      ['sub', sub],
    ] as const) {
      for (const ev of ['close', 'offline', 'error'] as const) {
        c.on(ev, (e?: Error) => {
          if (!b.stopping) b.incidents.push(`${name} ${ev}${e ? `: ${e.message}` : ''}`);
        });
      }
    }
    sub.on('message', (t, payload) => {
      if (t === topic) b.received.push(Number(payload.toString()));
    });
    await sub.subscribeAsync(topic, { qos: 1 });
    b.timer = setInterval(() => b.publishOne(), opts.everyMs ?? 10);
    return b;
  }

  private publishOne(): void {
    const n = this.seq++;
    this.pub.publish(this.topic, String(n), { qos: 1 }, (err) => {
      if (err) this.publishErrors++;
      else this.acked.push(n);
    });
  }

  /** How many messages have gone both ways so far. */
  get progress(): number {
    return Math.min(this.acked.length, this.received.length);
  }

  /**
   * Once at least `minMessages` went both ways (so a fast test still shows the exchange
   * worked), stops publishing, waits for the outstanding messages, closes both clients.
   */
  async stop(minMessages = 10, ms = 5000): Promise<BystanderReport> {
    try {
      await waitFor(() => this.progress >= minMessages || this.incidents.length > 0, `bystander exchanging ${minMessages} messages`, ms);
    } catch {
      // reported through the numbers
    }
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const sent = this.seq;
    try {
      await waitFor(() => this.acked.length + this.publishErrors >= sent, 'bystander PUBACKs', ms);
      const acked = new Set(this.acked);
      await waitFor(() => this.received.filter((n) => acked.has(n)).length >= acked.size, 'bystander deliveries', ms);
    } catch {
      // reported through the numbers
    }
    this.stopping = true;
    await endAll(this.pub, this.sub);
    return { acked: [...this.acked], received: [...this.received], publishErrors: this.publishErrors, incidents: [...this.incidents] };
  }

  /** Closes both clients at once (for finally blocks; safe after stop()). */
  async destroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stopping = true;
    await endAll(this.pub, this.sub);
  }
}

/**
 * What a user checks of the bystander: nothing went wrong on its connections, every PUBACKed
 * message arrived, in order, with no duplicates or gaps beyond those never acknowledged.
 */
export function bystanderProblems(r: BystanderReport, minMessages: number): string[] {
  const problems: string[] = [];
  if (r.incidents.length) problems.push(`client incidents: ${r.incidents.join('; ')}`);
  if (r.publishErrors) problems.push(`${r.publishErrors} publishes failed`);
  if (r.acked.length < minMessages) problems.push(`only ${r.acked.length} messages acknowledged (expected at least ${minMessages})`);
  const got = new Set(r.received);
  const lost = r.acked.filter((n) => !got.has(n));
  if (lost.length) problems.push(`${lost.length} acknowledged messages never arrived, first ${lost.slice(0, 5).join(',')}`);
  for (let i = 1; i < r.received.length; i++) {
    if (r.received[i] <= r.received[i - 1]) {
      problems.push(`out of order or duplicated at index ${i}: ${r.received[i - 1]} then ${r.received[i]}`);
      break;
    }
  }
  return problems;
}
