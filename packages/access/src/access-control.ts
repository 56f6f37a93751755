/**
 * Authentication, authorization and bans as EMQX does them, plugged into the broker through
 * its hooks (hooks.ts): CONNECT checks the ban list, then the built-in user database;
 * PUBLISH and SUBSCRIBE check the ACL file's rules. Without an ACL file no `authorize` hook
 * is installed at all, so publishing pays nothing for authorization.
 */
import type pino from 'pino';
import { RC } from '@vireo/mqtt';
import { Acl, type AclDecision } from './acl.js';
import { BanList, type Ban } from './banned.js';
import { BuiltinUsers } from './builtin-users.js';
import { hostOf, type AuthenticateRequest, type AuthResult, type AuthorizeAction, type Broker, type BrokerHooks, type ClientInfo, type RecordTables } from '@vireo/broker';
import type { HashAlgorithm } from './password-hash.js';

export interface AccessControlOptions {
  authentication: {
    /** Check users of the built-in database; off: every client is accepted (anonymous). */
    enable: boolean;
    /** With `enable`: accept clients that give no user id. */
    allowAnonymous: boolean;
    /** What the user id is: the CONNECT's username or its client id. */
    userIdType: 'username' | 'clientid';
    algorithm: HashAlgorithm;
  };
  authorization: {
    noMatch: 'allow' | 'deny';
    /** What a denied PUBLISH does to the client: nothing more, or a DISCONNECT 0x87. */
    denyAction: 'ignore' | 'disconnect';
    /** Reads and compiles the rule file (throws AclError); absent: no file source. */
    loadRules?: () => Acl;
  };
  tables: RecordTables;
  logger: pino.Logger;
}

/** Counters EMQX keeps besides the broker's authSuccess / authFailure / aclDenied. */
export class AccessCounters {
  authnSuccessAnonymous = 0;
  bannedRefused = 0;
  authzAllow = 0;
  authzMatchedAllow = 0;
  authzMatchedDeny = 0;
  authzNomatch = 0;
  authzSuperuser = 0;
  /** Messages not delivered through a wildcard subscription because a subscribe deny covers their topic. */
  authzDeliveryDenied = 0;
}

/** How often expired bans are deleted. */
const PURGE_INTERVAL_MS = 60_000;

export class AccessControl {
  readonly users: BuiltinUsers;
  readonly banned: BanList;
  readonly counters = new AccessCounters();
  private acl: Acl | undefined;
  private broker: Broker | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  /** Who holds marked subscriptions (for their deliveries while disconnected). */
  private readonly marked = new Map<string, ClientInfo>();
  private readonly logger: pino.Logger;

  constructor(private readonly opts: AccessControlOptions) {
    this.logger = opts.logger;
    this.users = new BuiltinUsers(opts.tables.table('users'), opts.authentication.algorithm);
    this.banned = new BanList(opts.tables.table('banned'));
    this.acl = opts.authorization.loadRules?.();
  }

  get authenticationEnabled(): boolean {
    return this.opts.authentication.enable;
  }

  get userIdType(): 'username' | 'clientid' {
    return this.opts.authentication.userIdType;
  }

  get settings(): { no_match: string; deny_action: string; sources: { type: 'file'; enable: boolean; rules: number }[] } {
    const a = this.opts.authorization;
    return { no_match: a.noMatch, deny_action: a.denyAction, sources: this.acl ? [{ type: 'file', enable: true, rules: this.acl.size }] : [] };
  }

  /** The hooks to give the broker (before it starts). */
  hooks(): BrokerHooks {
    const hooks: BrokerHooks = { authenticate: (req) => this.authenticate(req) };
    if (this.acl) {
      hooks.authorize = (client, action, topic) => this.authorize(client, action, topic);
      hooks.deliveryCheck = (client, filter) => this.deliveryCheck(client, filter);
      hooks.authorizeDelivery = (clientId, topic) => this.authorizeDelivery(clientId, topic);
    }
    return hooks;
  }

  /** Once the broker runs: bans can kick clients, and expired bans get deleted. */
  attach(broker: Broker): void {
    this.broker = broker;
    this.purgeTimer = setInterval(() => {
      const n = this.banned.purgeExpired();
      if (n > 0) this.logger.info({ count: n }, 'Expired bans deleted');
      for (const id of this.marked.keys()) if (broker.session(id) === undefined) this.marked.delete(id);
    }, PURGE_INTERVAL_MS);
    this.purgeTimer.unref();
    // a resumed session (restored from the store, taken over, or kept while away) is marked for who connects now
    if (this.acl) broker.on('client.connected', (info) => this.remark(info));
  }

  close(): void {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    this.opts.tables.close();
  }

  /** Re-reads the rule file; throws (AclError) and keeps the old rules when it is bad. */
  reloadAcl(): number {
    const load = this.opts.authorization.loadRules;
    if (!load) throw new Error('no authorization file source is configured (authorization.sources.file.path)');
    this.acl = load();
    this.logger.info({ rules: this.acl.size }, 'Authorization rules reloaded');
    for (const ch of this.broker?.connections() ?? []) this.remark(ch.info);
    return this.acl.size;
  }

  /** Adds a ban and disconnects the connected clients it covers; returns how many. */
  ban(b: Ban): number {
    this.banned.add(b);
    this.logger.info({ as: b.as, who: b.who, by: b.by, reason: b.reason }, 'Banned');
    const broker = this.broker;
    if (!broker) return 0;
    const hit = [...broker.connections()].filter((ch) =>
      b.as === 'clientid' ? ch.clientId === b.who : b.as === 'username' ? ch.username === b.who : normalizeIp(hostOf(ch.peer)) === b.who,
    );
    for (const ch of hit) broker.kick(ch.clientId);
    return hit.length;
  }

  private async authenticate(req: AuthenticateRequest): Promise<AuthResult> {
    const ban = this.banned.find(req.clientId, req.username, normalizeIp(hostOf(req.peer)));
    if (ban) {
      this.counters.bannedRefused++;
      this.logger.warn({ clientid: req.clientId, username: req.username, peer: req.peer, as: ban.as, who: ban.who }, 'Banned client refused');
      return { ok: false, reasonCode: RC.BANNED };
    }
    const authn = this.opts.authentication;
    const userId = authn.userIdType === 'username' ? req.username : req.clientId;
    if (!authn.enable || ((userId === undefined || userId === '') && authn.allowAnonymous)) {
      this.counters.authnSuccessAnonymous++;
      return { ok: true };
    }
    if (userId === undefined || userId === '') {
      this.logger.warn({ clientid: req.clientId, peer: req.peer, reason: 'anonymous' }, 'Authentication failed');
      return { ok: false, reasonCode: RC.NOT_AUTHORIZED };
    }
    const r = await this.users.check(userId, req.password);
    if (!r.ok) {
      this.logger.warn({ clientid: req.clientId, username: req.username, peer: req.peer, reason: r.reason }, 'Authentication failed');
      return { ok: false, reasonCode: RC.BAD_USERNAME_OR_PASSWORD };
    }
    return { ok: true, isSuperuser: r.isSuperuser };
  }

  /** Synchronous: the publish path stays free of Promises. */
  private authorize(client: ClientInfo, action: AuthorizeAction, topic: string): boolean {
    const c = this.counters;
    if (client.isSuperuser) {
      c.authzSuperuser++;
      c.authzAllow++;
      return true;
    }
    const acl = this.acl!;
    const d: AclDecision = acl.check(client, acl.usesAddress ? normalizeIp(hostOf(client.peer)) : '', action, topic);
    if (d === 'allow') c.authzMatchedAllow++;
    else if (d === 'deny') c.authzMatchedDeny++;
    else c.authzNomatch++;
    const allowed = d === 'allow' || (d === 'nomatch' && this.opts.authorization.noMatch === 'allow');
    if (allowed) {
      c.authzAllow++;
      return true;
    }
    // the channel logs a denied PUBLISH itself; a SUBSCRIBE is logged here
    this.logger[action === 'publish' ? 'debug' : 'info']({ clientid: client.clientId, username: client.username, peer: client.peer, action, topic, decision: d }, 'Authorization denied');
    if (action === 'publish' && this.opts.authorization.denyAction === 'disconnect') {
      // EMQX's deny_action disconnect: DISCONNECT 0x87 instead of the PUBACK (the channel's ack then finds the socket closed)
      this.broker?.closeConnection(client, 'not_authorized', RC.NOT_AUTHORIZED);
    }
    return false;
  }

  private ipOf(acl: Acl, client: ClientInfo): string {
    return acl.usesAddress ? normalizeIp(hostOf(client.peer)) : '';
  }

  /** At subscribe: a wildcard subscription overlapping a subscribe deny is checked per message. */
  private deliveryCheck(client: ClientInfo, filter: string): boolean {
    const acl = this.acl;
    if (!acl || client.isSuperuser || !acl.hasSubscribeDeny || !acl.overlapsDeny(client, this.ipOf(acl, client), filter)) return false;
    this.marked.set(client.clientId, client);
    return true;
  }

  /** Re-decides the marks of a client's subscriptions (after a reconnect or a rule reload). */
  private remark(info: ClientInfo): void {
    const session = this.broker?.session(info.clientId);
    if (!session) return;
    for (const [filter, opts] of session.subscriptions) {
      if (this.deliveryCheck(info, filter)) opts.aclCheck = true;
      else delete opts.aclCheck;
    }
  }

  /** Per message through a marked subscription: decided as a SUBSCRIBE to exactly that topic. */
  private authorizeDelivery(clientId: string, topic: string): boolean {
    const acl = this.acl;
    if (!acl) return true;
    const info = this.broker?.connection(clientId)?.info ?? this.marked.get(clientId);
    if (info?.isSuperuser) return true;
    const d = info ? acl.checkDelivery(info, this.ipOf(acl, info), topic) : acl.checkDelivery({ clientId }, undefined, topic);
    if (d !== 'deny') return true;
    this.counters.authzDeliveryDenied++;
    this.logger.debug({ clientid: clientId, topic, reason: 'not_authorized' }, 'Delivery denied by a subscribe rule');
    return false;
  }
}

/** `::ffff:10.0.0.1` (IPv4 on a dual-stack socket) → `10.0.0.1`, so bans and rules name plain IPv4. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
