/**
 * `mcast` discovery: every node announces `{node, addr}` on a UDP multicast group each
 * round (and at once when it starts) and collects the announcements of the others. An
 * announcement is only a candidate address: peers still prove the cookie when they
 * connect. Addresses not heard from for three rounds are dropped from the candidates.
 */
import dgram from 'node:dgram';
import type { Logger } from 'pino';
import type { Discovery, DiscoverySelf } from './discovery.js';

export interface McastDiscoveryOptions {
  group: string;
  port: number;
  /** Local interface address to send and receive on; `0.0.0.0`: the system's choice. */
  iface: string;
  ttl: number;
  /** How often this node announces itself (the discovery round). */
  intervalMs: number;
  logger: Logger;
}

interface Announcement {
  vireo: 1;
  node: string;
  addr: string;
}

export function mcastDiscovery(o: McastDiscoveryOptions): Discovery {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  const heard = new Map<string, number>(); // addr → last heard
  let self: DiscoverySelf | undefined;
  let ready = false;
  let failing = false;

  const announce = () => {
    if (!self || !ready) return;
    const msg = Buffer.from(JSON.stringify({ vireo: 1, node: self.node, addr: self.addr } satisfies Announcement));
    socket.send(msg, o.port, o.group, (err) => {
      if (err && !failing) o.logger.warn({ discovery: 'mcast', group: o.group, port: o.port, err: err.message }, 'Multicast announcement failed, retrying');
      failing = !!err;
    });
  };

  return {
    strategy: 'mcast',
    async start(me, changed) {
      self = me;
      socket.on('message', (buf) => {
        let a: Announcement;
        try {
          a = JSON.parse(buf.toString()) as Announcement;
        } catch {
          return;
        }
        if (a.vireo !== 1 || typeof a.addr !== 'string' || a.node === me.node) return;
        const isNew = !heard.has(a.addr);
        heard.set(a.addr, Date.now());
        if (isNew) changed();
      });
      socket.on('error', (err) => o.logger.warn({ discovery: 'mcast', err: err.message }, 'Multicast socket error'));
      await new Promise<void>((resolve) => socket.bind(o.port, () => resolve()));
      const iface = o.iface === '0.0.0.0' ? undefined : o.iface;
      socket.addMembership(o.group, iface);
      if (iface) socket.setMulticastInterface(iface);
      socket.setMulticastTTL(o.ttl);
      socket.setMulticastLoopback(true);
      ready = true;
      o.logger.info({ discovery: 'mcast', group: o.group, port: o.port, iface: o.iface, ttl: o.ttl }, 'Announcing on multicast');
      announce();
    },
    async candidates() {
      announce();
      const stale = Date.now() - 3 * o.intervalMs;
      for (const [addr, at] of heard) if (at < stale) heard.delete(addr);
      return [...heard.keys()];
    },
    close() {
      ready = false;
      try {
        socket.close();
      } catch {
        // not bound
      }
    },
  };
}
