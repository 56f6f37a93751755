/**
 * Banned clients, EMQX's `banned` table: by client id, username, peer host or network
 * (`peerhost_net`, a CIDR), each with who banned it, why, and until when. Addresses and
 * networks are kept in one spelling (cidr.ts), so a ban holds however it was written. Kept in a record table of the node's store; expired bans
 * are ignored at once and deleted by `purgeExpired` (run periodically).
 */
import type { RecordTable } from '@vireo/broker';
import { canonicalIp, formatNet, netContains, parseNet, type Net } from './cidr.js';

export type BanKind = 'clientid' | 'username' | 'peerhost' | 'peerhost_net';
export const BAN_KINDS: readonly BanKind[] = ['clientid', 'username', 'peerhost', 'peerhost_net'];

/** A ban whose `who` is not what its `as` needs (an address, a CIDR). */
export class BanError extends Error {}

/** `who` in its one spelling: addresses canonical, networks with host bits cleared. Throws BanError. */
export function normalizeBanWho(as: BanKind, who: string): string {
  if (as === 'peerhost') {
    const ip = canonicalIp(who);
    if (ip === undefined) throw new BanError(`peerhost: ${who} is not an IPv4 or IPv6 address`);
    return ip;
  }
  if (as === 'peerhost_net') {
    const net = parseNet(who);
    if (net === undefined) throw new BanError(`peerhost_net: ${who} is not a network (CIDR), e.g. 10.0.0.0/8 or 2001:db8::/32`);
    return formatNet(net);
  }
  return who;
}

export interface Ban {
  as: BanKind;
  who: string;
  by: string;
  reason: string;
  /** ms since the epoch */
  at: number;
  /** ms since the epoch; Infinity = until deleted */
  until: number;
}

export class BanList {
  private readonly byKind: Record<BanKind, Map<string, Ban>> = { clientid: new Map(), username: new Map(), peerhost: new Map(), peerhost_net: new Map() };
  /** The networks of peerhost_net bans, parsed. */
  private readonly nets = new Map<string, Net>();

  constructor(private readonly table: RecordTable) {
    for (const [, value] of table.entries()) {
      const b = JSON.parse(value) as Omit<Ban, 'until'> & { until: number | null };
      this.remember({ ...b, until: b.until ?? Infinity });
    }
  }

  get size(): number {
    return this.byKind.clientid.size + this.byKind.username.size + this.byKind.peerhost.size + this.byKind.peerhost_net.size;
  }

  /** Adds or replaces the ban of `as`/`who` (`who` normalized first; throws BanError when it is not valid). */
  add(ban: Ban): Ban {
    const b = { ...ban, who: normalizeBanWho(ban.as, ban.who) };
    this.table.put(key(b.as, b.who), JSON.stringify({ ...b, until: b.until === Infinity ? null : b.until }));
    this.remember(b);
    return b;
  }

  private remember(b: Ban): void {
    this.byKind[b.as].set(b.who, b);
    if (b.as === 'peerhost_net') {
      const net = parseNet(b.who);
      if (net) this.nets.set(b.who, net);
    }
  }

  delete(as: BanKind, who: string): boolean {
    let w = who;
    try {
      w = normalizeBanWho(as, who);
    } catch {
      return false;
    }
    if (!this.byKind[as].delete(w)) return false;
    this.nets.delete(w);
    this.table.delete(key(as, w));
    return true;
  }

  /** Bans in force, oldest first. */
  list(now = Date.now()): Ban[] {
    return BAN_KINDS.flatMap((k) => [...this.byKind[k].values()])
      .filter((b) => b.until > now)
      .sort((a, b) => a.at - b.at);
  }

  get(as: BanKind, who: string, now = Date.now()): Ban | undefined {
    let w = who;
    if (as === 'peerhost' || as === 'peerhost_net') {
      try {
        w = normalizeBanWho(as, who);
      } catch {
        return undefined;
      }
    }
    const b = this.byKind[as].get(w);
    return b && b.until > now ? b : undefined;
  }

  /** The ban that applies to a client, if any (`host`: its address, any spelling). */
  find(clientId: string, username: string | undefined, host: string, now = Date.now()): Ban | undefined {
    if (this.size === 0) return undefined;
    return (
      this.get('clientid', clientId, now) ?? (username !== undefined ? this.get('username', username, now) : undefined) ?? this.get('peerhost', host, now) ?? this.inNet(host, now)
    );
  }

  /** A peerhost_net ban whose network holds `host`. */
  inNet(host: string, now = Date.now()): Ban | undefined {
    for (const [who, net] of this.nets) {
      const b = this.byKind.peerhost_net.get(who);
      if (b && b.until > now && netContains(net, host)) return b;
    }
    return undefined;
  }

  /** Deletes expired bans; returns how many. */
  purgeExpired(now = Date.now()): number {
    let n = 0;
    for (const k of BAN_KINDS) for (const b of [...this.byKind[k].values()]) if (b.until <= now && this.delete(k, b.who)) n++;
    return n;
  }
}

function key(as: BanKind, who: string): string {
  return `${as}:${who}`;
}
