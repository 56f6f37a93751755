/**
 * Banned clients, EMQX's `banned` table: by client id, username or peer host, each with who
 * banned it, why, and until when. Kept in a record table of the node's store; expired bans
 * are ignored at once and deleted by `purgeExpired` (run periodically).
 */
import type { RecordTable } from '@vireo/broker';

export type BanKind = 'clientid' | 'username' | 'peerhost';
export const BAN_KINDS: readonly BanKind[] = ['clientid', 'username', 'peerhost'];

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
  private readonly byKind: Record<BanKind, Map<string, Ban>> = { clientid: new Map(), username: new Map(), peerhost: new Map() };

  constructor(private readonly table: RecordTable) {
    for (const [, value] of table.entries()) {
      const b = JSON.parse(value) as Omit<Ban, 'until'> & { until: number | null };
      this.byKind[b.as].set(b.who, { ...b, until: b.until ?? Infinity });
    }
  }

  get size(): number {
    return this.byKind.clientid.size + this.byKind.username.size + this.byKind.peerhost.size;
  }

  /** Adds or replaces the ban of `as`/`who`. */
  add(ban: Ban): void {
    this.table.put(key(ban.as, ban.who), JSON.stringify({ ...ban, until: ban.until === Infinity ? null : ban.until }));
    this.byKind[ban.as].set(ban.who, ban);
  }

  delete(as: BanKind, who: string): boolean {
    if (!this.byKind[as].delete(who)) return false;
    this.table.delete(key(as, who));
    return true;
  }

  /** Bans in force, oldest first. */
  list(now = Date.now()): Ban[] {
    return BAN_KINDS.flatMap((k) => [...this.byKind[k].values()])
      .filter((b) => b.until > now)
      .sort((a, b) => a.at - b.at);
  }

  get(as: BanKind, who: string, now = Date.now()): Ban | undefined {
    const b = this.byKind[as].get(who);
    return b && b.until > now ? b : undefined;
  }

  /** The ban that applies to a client, if any. */
  find(clientId: string, username: string | undefined, host: string, now = Date.now()): Ban | undefined {
    if (this.size === 0) return undefined;
    return this.get('clientid', clientId, now) ?? (username !== undefined ? this.get('username', username, now) : undefined) ?? this.get('peerhost', host, now);
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
