/**
 * The delivery-time check of subscribe denies (acl.ts): which subscriptions are marked, and
 * whether a message through a marked one may be delivered. The client's own rules (a JWT's
 * `acl` claim) come first, then the file source's, as for a SUBSCRIBE.
 */
import type pino from 'pino';
import { hostOf, type ClientInfo, type Session } from '@vireo/broker';
import type { Acl } from './acl.js';

interface Counters {
  authzDeliveryDenied: number;
}

export class DeliveryGuard {
  /** Who holds marked subscriptions (for their deliveries while disconnected). */
  private readonly marked = new Map<string, ClientInfo>();

  constructor(
    private readonly fileAcl: () => Acl | undefined,
    private readonly counters: Counters,
    private readonly logger: pino.Logger,
  ) {}

  /** At subscribe: a wildcard subscription overlapping a subscribe deny is checked per message. */
  mark(client: ClientInfo, filter: string): boolean {
    if (client.isSuperuser) return false;
    const overlaps = (acl: Acl | undefined) => acl !== undefined && acl.hasSubscribeDeny && acl.overlapsDeny(client, ipOf(acl, client), filter);
    if (!overlaps(client.attrs?.acl as Acl | undefined) && !overlaps(this.fileAcl())) return false;
    this.marked.set(client.clientId, client);
    return true;
  }

  /** Re-decides the marks of a client's subscriptions (after a reconnect or a rule reload). */
  remark(info: ClientInfo, session: Session | undefined): void {
    if (!session) return;
    for (const [filter, opts] of session.subscriptions) {
      if (this.mark(info, filter)) opts.aclCheck = true;
      else delete opts.aclCheck;
    }
  }

  /** Per message through a marked subscription: decided as a SUBSCRIBE to exactly that topic. */
  allowed(connected: ClientInfo | undefined, clientId: string, topic: string): boolean {
    const info = connected ?? this.marked.get(clientId);
    if (info?.isSuperuser) return true;
    for (const acl of [info?.attrs?.acl as Acl | undefined, this.fileAcl()]) {
      if (!acl) continue;
      const d = info ? acl.checkDelivery(info, ipOf(acl, info), topic) : acl.checkDelivery({ clientId }, undefined, topic);
      if (d === 'allow') return true;
      if (d === 'deny') {
        this.counters.authzDeliveryDenied++;
        this.logger.debug({ clientid: clientId, topic, reason: 'not_authorized' }, 'Delivery denied by a subscribe rule');
        return false;
      }
    }
    return true;
  }

  /** Forgets clients whose sessions are gone. */
  forgetGone(has: (clientId: string) => boolean): void {
    for (const id of this.marked.keys()) if (!has(id)) this.marked.delete(id);
  }
}

function ipOf(acl: Acl, client: ClientInfo): string {
  if (!acl.usesAddress) return '';
  const ip = hostOf(client.peer);
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
