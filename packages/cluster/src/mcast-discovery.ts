/**
 * `mcast` discovery: every node announces `{node, addr}` on a UDP multicast group each
 * round (and at once when it starts) and collects the announcements of the others. Each
 * announcement carries the time it was sent and an HMAC with the cookie over node,
 * address and time: unsigned, wrongly signed or stale ones (older than `maxAgeMs`) are
 * ignored, so a stranger on the LAN cannot make nodes dial it. An announcement is still
 * only a candidate address: peers prove the cookie when they connect. Addresses not heard
 * from for three rounds are dropped from the candidates.
 */
import dgram from 'node:dgram';
import type { Logger } from 'pino';
import { announcementMac, sameMac } from './auth.js';
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
  /** Signs our announcements and checks theirs. */
  cookie: string;
  /** Announcements older (or further in the future) than this are ignored; default 30 s (clock skew between nodes). */
  maxAgeMs?: number;
}

interface Announcement {
  vireo: 2;
  node: string;
  addr: string;
  /** ms since the epoch, when sent */
  ts: number;
  /** hex HMAC-SHA256(cookie, node, addr, ts) */
  mac: string;
}

export function mcastDiscovery(o: McastDiscoveryOptions): Discovery {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  const heard = new Map<string, number>(); // addr → last heard
  let self: DiscoverySelf | undefined;
  let ready = false;
  let failing = false;
  const maxAge = o.maxAgeMs ?? 30_000;
  const ignoredLogged = new Map<string, number>();
  const rejected = (a: Partial<Announcement>): string | undefined => {
    if (typeof a.mac !== 'string' || typeof a.ts !== 'number') return 'unsigned (a node of an older version, or a stranger)';
    if (Math.abs(Date.now() - a.ts) > maxAge) return `stale: sent ${Math.round((Date.now() - a.ts) / 1000)} s ago (a replay, or clocks apart)`;
    if (!sameMac(a.mac, announcementMac(o.cookie, a.node ?? '', a.addr ?? '', a.ts))) return 'bad signature (another cookie)';
    return undefined;
  };

  const announce = () => {
    if (!self || !ready) return;
    const ts = Date.now();
    const msg = Buffer.from(JSON.stringify({ vireo: 2, node: self.node, addr: self.addr, ts, mac: announcementMac(o.cookie, self.node, self.addr, ts) } satisfies Announcement));
    socket.send(msg, o.port, o.group, (err) => {
      if (err && !failing) o.logger.warn({ discovery: 'mcast', group: o.group, port: o.port, err: err.message }, 'Multicast announcement failed, retrying');
      failing = !!err;
    });
  };

  return {
    strategy: 'mcast',
    async start(me, changed) {
      self = me;
      socket.on('message', (buf, rinfo) => {
        let a: Announcement;
        try {
          a = JSON.parse(buf.toString()) as Announcement;
        } catch {
          return;
        }
        if (typeof a !== 'object' || a === null || typeof a.addr !== 'string' || typeof a.node !== 'string' || a.node === me.node) return;
        const why = rejected(a);
        if (why) {
          if (Date.now() - (ignoredLogged.get(a.addr) ?? 0) > 60_000) {
            ignoredLogged.set(a.addr, Date.now());
            o.logger.warn({ discovery: 'mcast', peer_node: a.node, addr: a.addr, from: `${rinfo.address}:${rinfo.port}`, reason: why }, 'Multicast announcement ignored');
          }
          return;
        }
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
