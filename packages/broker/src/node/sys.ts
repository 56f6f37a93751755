import type { ChannelHandle } from '../channel/context.js';
import type { ClientRegistry } from '../cm/registry.js';
import { newMessageId } from '../message.js';
import type { SysOptions } from '../options.js';
import { hostOf } from '../peer.js';
import type { Message } from '../message.js';
import type { Retainer } from '../routing/retainer.js';
import type { Router } from '../routing/router.js';
import { VERSION } from '../version.js';
import type { Stats } from './stats.js';

/** What the $SYS publisher reads and where it publishes. */
export interface SysSources {
  nodeName: string;
  options: SysOptions;
  startedAt: number;
  stats: Stats;
  registry: ClientRegistry;
  router: Router;
  retainer: Retainer;
  nodes(): string[];
  publish(msg: Message): void;
}

/**
 * `$SYS/brokers/{node}/…`: a heartbeat of broker facts every `sys_msg_interval`, and one
 * message per client connect/disconnect, as EMQX publishes them.
 */
export class SysPublisher {
  private timer: NodeJS.Timeout | undefined;
  private readonly prefix: string;

  constructor(private readonly src: SysSources) {
    this.prefix = `$SYS/brokers/${src.nodeName}`;
  }

  start(): void {
    this.nodesChanged();
    this.publish(`${this.prefix}/version`, VERSION, true);
    this.publish(`${this.prefix}/sysdescr`, 'Vireo MQTT broker', true);
    this.heartbeat();
    const every = this.src.options.sysMsgInterval;
    if (every > 0) {
      this.timer = setInterval(() => this.heartbeat(), every);
      this.timer.unref();
    }
  }

  /** `$SYS/brokers`: the running nodes, retained (so replicated to every node). */
  nodesChanged(): void {
    this.publish(`$SYS/brokers`, this.src.nodes().join(','), true);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private heartbeat(): void {
    const { stats, registry, router, retainer } = this.src;
    const p = this.prefix;
    const connected = registry.channels.size;
    this.publish(`${p}/uptime`, formatUptime(Date.now() - this.src.startedAt));
    this.publish(`${p}/datetime`, new Date().toISOString());
    this.publish(`${p}/clients/connected`, String(connected));
    this.publish(`${p}/clients/disconnected`, String(registry.sessions.size - connected));
    this.publish(`${p}/stats/connections/count`, String(connected));
    this.publish(`${p}/stats/connections/max`, String(stats.connectionsMax));
    this.publish(`${p}/stats/sessions/count`, String(registry.sessions.size));
    this.publish(`${p}/stats/subscriptions/count`, String(router.subscriptionCount));
    this.publish(`${p}/stats/topics/count`, String(router.topicCount));
    this.publish(`${p}/stats/retained/count`, String(retainer.size));
    this.publish(`${p}/metrics/messages/received`, String(stats.msgIn));
    this.publish(`${p}/metrics/messages/sent`, String(stats.msgOut));
    this.publish(`${p}/metrics/messages/dropped`, String(stats.msgDropped));
  }

  clientConnected(ch: ChannelHandle): void {
    if (!this.src.options.clientConnected) return;
    this.publish(
      `${this.prefix}/clients/${ch.clientId}/connected`,
      JSON.stringify({
        clientid: ch.clientId,
        username: ch.username ?? null,
        ipaddress: hostOf(ch.peer),
        proto_name: ch.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
        proto_ver: ch.protocolVersion,
        keepalive: ch.keepalive,
        clean_start: ch.session?.expiryInterval === 0,
        expiry_interval: ch.session?.expiryInterval ?? 0,
        connected_at: ch.connectedAt,
        ts: Date.now(),
      }),
    );
  }

  clientDisconnected(ch: ChannelHandle, reason: string): void {
    if (!this.src.options.clientDisconnected) return;
    this.publish(
      `${this.prefix}/clients/${ch.clientId}/disconnected`,
      JSON.stringify({
        clientid: ch.clientId,
        username: ch.username ?? null,
        ipaddress: hostOf(ch.peer),
        proto_ver: ch.protocolVersion,
        reason,
        connected_at: ch.connectedAt,
        disconnected_at: Date.now(),
        ts: Date.now(),
      }),
    );
  }

  private publish(topic: string, payload: string, retain = false): void {
    const now = Date.now();
    this.src.publish({ id: newMessageId(), topic, payload: Buffer.from(payload), qos: 0, retain, properties: undefined, from: '', timestamp: now, expiresAt: 0 });
  }
}

function formatUptime(ms: number): string {
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${d > 0 ? `${d} days, ` : ''}${h} hours, ${m} minutes, ${s} seconds`;
}
