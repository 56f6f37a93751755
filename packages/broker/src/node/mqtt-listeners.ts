import type { Duplex } from 'node:stream';
import type pino from 'pino';
import type { Channel } from '../channel/channel.js';
import type { ClientLimitCounters } from '../limits/counters.js';
import { applyListenerRates, connRateEpisodeLogger, listenerRates, type ListenerRates } from '../limits/listener-rates.js';
import type { ListenerOptions } from '../options.js';
import { startListener, type RunningListener } from '../transport/listeners.js';
import { ProxyHeaderError } from '../transport/proxy-protocol.js';

/** A node's open MQTT listeners: opening them all or none, their figures, their live rate limits. */
export class MqttListeners {
  private running: RunningListener[] = [];

  constructor(
    private readonly logger: pino.Logger,
    private readonly counters: ClientLimitCounters,
  ) {}

  /** Opens every listener with a port; on a bind error closes those already open and throws. */
  async open(listeners: readonly ListenerOptions[], maxPacketSize: number, accept: (socket: Duplex, peer: string, opts: ListenerOptions) => void): Promise<void> {
    try {
      for (const l of listeners) {
        if (l.port === 0) continue;
        this.running.push(
          await startListener(
            l,
            accept,
            maxPacketSize,
            (opts, peer, err) => {
              const proxy = err instanceof ProxyHeaderError;
              this.logger.info({ listener: opts.name, peer, reason: err.message }, proxy ? 'PROXY protocol header refused' : 'TLS handshake failed');
              this.countDisconnect(opts.name, proxy ? 'proxy_protocol_error' : 'ssl_error');
            },
            connRateEpisodeLogger(this.logger),
          ),
        );
      }
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    const open = this.running;
    this.running = [];
    await Promise.all(open.map((l) => l.close()));
  }

  addresses(): { name: string; type: ListenerOptions['type']; host: string; port: number }[] {
    return this.running.map((l) => ({ name: l.options.name, type: l.options.type, host: l.options.host, port: l.port }));
  }

  /** Listener state with connection counts and disconnects by reason. */
  stats(): { name: string; type: string; bind: string; connections: number; shutdownCount: Record<string, number>; connRateLimited: number }[] {
    return this.running.map((l) => ({
      name: l.options.name,
      type: l.options.type,
      bind: `${l.options.host}:${l.port}`,
      connections: l.connections,
      shutdownCount: Object.fromEntries(l.shutdownCount),
      connRateLimited: l.connRateLimited,
    }));
  }

  /** The limiters of listener `l`. */
  rates(l: ListenerOptions): ListenerRates {
    return listenerRates(l);
  }

  /** Changes the limiters of listener `l` while it runs, for its connected `clients` too (docs/limits.md). */
  setRates(l: ListenerOptions, rates: ListenerRates, clients: Channel[]): void {
    const running = this.running.find((x) => x.options === l);
    applyListenerRates(l, running, rates, clients, { logger: this.logger, counters: this.counters });
  }

  countDisconnect(listener: string, reason: string): void {
    const l = this.running.find((x) => x.options.name === listener);
    if (l) l.shutdownCount.set(reason, (l.shutdownCount.get(reason) ?? 0) + 1);
  }
}
