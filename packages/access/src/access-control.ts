/**
 * Authentication, authorization and bans as EMQX 5 does them, plugged into the broker through
 * its hooks (hooks.ts): CONNECT checks the ban list, then the authenticator chain
 * (authn/chain.ts); PUBLISH and SUBSCRIBE check the client's own rules (a JWT's `acl` claim),
 * then the authorization sources in order (authz/sources.ts). Without sources and without a
 * JWT authenticator no `authorize` hook is installed, so publishing pays nothing.
 */
import type pino from 'pino';
import { RC } from '@vireo/mqtt';
import { hostOf, type AuthenticateRequest, type AuthResult, type AuthorizeAction, type Broker, type BrokerHooks, type ClientInfo, type RecordTables } from '@vireo/broker';
import type { Acl, AclDecision } from './acl.js';
import { BanList, type Ban } from './banned.js';
import { canonicalIp, netContains, parseNet } from './cidr.js';
import { BuiltinUsers } from './builtin-users.js';
import { DEFAULT_HASH } from './password-hash.js';
import { AuthnChain, type AuthenticatorConfig } from './authn/chain.js';
import { AuthzCache, buildSources, type FileSource, type Source, type SourceConfig } from './authz/sources.js';
import { DeliveryGuard } from './delivery-guard.js';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './write-file.js';
import { serviceView } from './http-request.js';
import { AuthnExpiry } from './authn/expiry.js';
import type { AuthzRequest as Req } from './authz/sources.js';
import { FlappingDetector, type FlappingOptions } from './flapping.js';

export interface AccessControlOptions {
  /** EMQX 5's ordered list; empty (or all disabled): every client is accepted. */
  authentication: readonly AuthenticatorConfig[];
  authorization: {
    noMatch: 'allow' | 'deny';
    /** What a denied PUBLISH does to the client: nothing more, or a DISCONNECT 0x87. */
    denyAction: 'ignore' | 'disconnect';
    sources: readonly SourceConfig[];
    /** Per-client decisions, used when a source must be asked over the network (http). */
    cache?: { enable: boolean; maxSize: number; ttl: number };
  };
  tables: RecordTables;
  logger: pino.Logger;
  /** `flapping_detect`; absent: off. */
  flapping?: FlappingOptions;
}

/** Counters EMQX keeps besides the broker's authSuccess / authFailure / aclDenied. */
export class AccessCounters {
  authnSuccessAnonymous = 0;
  bannedRefused = 0;
  /** Client ids banned by flapping_detect. */
  flappingBanned = 0;
  authzAllow = 0;
  authzMatchedAllow = 0;
  authzMatchedDeny = 0;
  authzNomatch = 0;
  authzSuperuser = 0;
  /** Messages not delivered through a wildcard subscription because a subscribe deny covers their topic. */
  authzDeliveryDenied = 0;
  authzCacheHit = 0;
  authzCacheMiss = 0;
}

/** How often expired bans are deleted. */
const PURGE_INTERVAL_MS = 60_000;

export class AccessControl {
  readonly users: BuiltinUsers;
  readonly banned: BanList;
  readonly counters = new AccessCounters();
  readonly chain: AuthnChain;
  private readonly sources: Source[];
  private readonly cache: AuthzCache | undefined;
  private readonly guard: DeliveryGuard;
  private broker: Broker | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private readonly logger: pino.Logger;
  /** Clients whose authentication ends at a set time (a JWT's exp, an HTTP answer's expire_at). */
  private readonly expiry: AuthnExpiry;
  private flapping: FlappingDetector | undefined;
  /** Told of each ban the node makes itself (flapping_detect), e.g. to copy it to the other nodes. */
  private readonly autoBanListeners: ((ban: Ban) => void)[] = [];

  constructor(private readonly opts: AccessControlOptions) {
    this.logger = opts.logger;
    const builtIn = opts.authentication.find((a) => a.mechanism === 'password_based' && a.backend === 'built_in_database');
    this.users = new BuiltinUsers(opts.tables.table('users'), builtIn && 'algorithm' in builtIn ? builtIn.algorithm : DEFAULT_HASH);
    this.banned = new BanList(opts.tables.table('banned'));
    this.chain = new AuthnChain(opts.authentication, this.users, this.logger);
    this.sources = buildSources(opts.authorization.sources, this.logger);
    const c = opts.authorization.cache;
    this.cache = c?.enable && this.sources.some((s) => s.type === 'http') ? new AuthzCache(c) : undefined;
    this.guard = new DeliveryGuard(() => this.fileAcl, this.counters, this.logger);
    this.flapping = opts.flapping && new FlappingDetector(opts.flapping);
    this.expiry = new AuthnExpiry((info) => this.broker?.closeConnection(info, 'expired', RC.MAXIMUM_CONNECT_TIME) ?? false, this.logger);
  }

  /** Bootstrap users, the first JWKS fetch: before the listeners open. Throws (naming the file) on a bad bootstrap file. */
  async start(): Promise<void> {
    await this.chain.start(this.users);
  }

  /** The first file source's rules (reloadable; the delivery check uses them). */
  private get fileAcl(): Acl | undefined {
    return this.sources.find((s): s is FileSource => s.type === 'file')?.acl;
  }

  /** EMQX's `GET /authentication`: each configured authenticator, in order. */
  get authenticatorViews(): { id: string; mechanism: string; backend?: string; enable: boolean }[] {
    return this.chain.configs.map((c) => ({
      id: c.mechanism === 'jwt' ? 'jwt' : `${c.mechanism}:${c.backend}`,
      mechanism: c.mechanism,
      ...(c.mechanism === 'jwt' ? {} : { backend: c.backend }),
      enable: c.enable !== false,
      ...(c.mechanism === 'password_based' && c.backend === 'built_in_database' ? { user_id_type: c.userIdType } : {}),
    }));
  }

  get settings(): {
    no_match: string;
    deny_action: string;
    cache: { enable: boolean; max_size: number; ttl: string; in_use: boolean };
    sources: ({ type: 'file'; enable: boolean; rules: number } | { type: 'http'; enable: boolean; url: string })[];
  } {
    const a = this.opts.authorization;
    const c = a.cache;
    return {
      no_match: a.noMatch,
      deny_action: a.denyAction,
      // in_use: the cache only serves when an http source is in the list
      cache: { enable: c?.enable ?? false, max_size: c?.maxSize ?? 0, ttl: `${c?.ttl ?? 0}ms`, in_use: this.cache !== undefined },
      sources: this.sources.map((s) => (s.type === 'file' ? { type: 'file' as const, enable: true, rules: s.acl.size } : { type: 'http' as const, enable: true, url: s.url })),
    };
  }

  /** The hooks to give the broker (before it starts). */
  hooks(): BrokerHooks {
    const hooks: BrokerHooks = { authenticate: (req) => this.authenticate(req) };
    // authenticators that may hand a client its own rules
    const ownRules = this.chain.authenticators.some((a) => a.id === 'jwt' || a.id === 'password_based:http');
    if (this.sources.length > 0 || ownRules) hooks.authorize = (client, action, topic, qos, retain) => this.authorize(client, action, topic, qos, retain);
    if (this.fileAcl || ownRules) {
      hooks.deliveryCheck = (client, filter) => this.guard.mark(client, filter);
      hooks.authorizeDelivery = (clientId, topic) => this.guard.allowed(this.broker?.connection(clientId)?.info, clientId, topic);
    }
    return hooks;
  }

  /** Once the broker runs: bans can kick clients, and expired bans get deleted. */
  attach(broker: Broker): void {
    this.broker = broker;
    this.purgeTimer = setInterval(() => {
      const n = this.banned.purgeExpired();
      if (n > 0) this.logger.info({ count: n }, 'Expired bans deleted');
      this.flapping?.purge();
      this.guard.forgetGone((id) => broker.session(id) !== undefined);
    }, PURGE_INTERVAL_MS);
    this.purgeTimer.unref();
    // a resumed session (restored from the store, taken over, or kept while away) is marked for who connects now
    broker.on('client.connected', (info) => {
      this.guard.remark(info, broker.session(info.clientId));
      const expireAt = info.attrs?.expireAt;
      if (typeof expireAt === 'number') this.expiry.arm(info, expireAt);
    });
    broker.on('client.disconnected', (info) => {
      this.cache?.drop(info.clientId);
      this.expiry.disarm(info);
    });
  }

  close(): void {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    this.expiry.close();
    this.chain.close();
    for (const s of this.sources) if (s.type === 'http') s.close();
    this.opts.tables.close();
  }

  /** Re-reads the rule file; throws (AclError) and keeps the old rules when it is bad. */
  reloadAcl(): number {
    const file = this.fileSource();
    return this.useRules(file, file.load(), 'Authorization rules reloaded');
  }

  /**
   * EMQX's `PUT /authorization/sources/file`: new rules as the file's text. They are compiled
   * first (a bad rule throws AclError naming it, and nothing changes), then written over the
   * file (a new file renamed into place, so a crash leaves the old or the new one) and used.
   */
  writeAclFile(text: string): number {
    const file = this.fileSource();
    if (!file.path || !file.compileText) throw new Error('the file source of this node cannot be written (no path)');
    const acl = file.compileText(text);
    writeFileAtomic(file.path, text);
    return this.useRules(file, acl, 'Authorization rules written and reloaded');
  }

  /** The rule file's text (EMQX's `GET /authorization/sources/file`); undefined without a file source. */
  aclFileText(): { path: string | undefined; rules: string; count: number } | undefined {
    const file = this.sources.find((s): s is FileSource => s.type === 'file');
    if (!file) return undefined;
    return { path: file.path, rules: file.path ? readFileSync(file.path, 'utf8') : '', count: file.acl.size };
  }

  /** EMQX's `DELETE /authorization/cache`: every client's cached decisions are forgotten. */
  clearAuthzCache(): void {
    this.cache?.clear();
  }

  /** EMQX's `GET /authorization/sources`: each configured source in order, enabled or not. */
  sourceViews(): Record<string, unknown>[] {
    return this.opts.authorization.sources.map((c) => {
      if (c.type === 'http') return { type: 'http', enable: c.enable !== false, ...serviceView(c) };
      const live = c.enable !== false ? this.sources.find((s): s is FileSource => s.type === 'file') : undefined;
      return { type: 'file', enable: c.enable !== false, path: c.path ?? null, ...(live ? { rules_count: live.acl.size } : {}) };
    });
  }

  private fileSource(): FileSource {
    const file = this.sources.find((s): s is FileSource => s.type === 'file');
    if (!file) throw new Error('no authorization file source is configured (authorization.sources: [{type: file, path: …}])');
    return file;
  }

  private useRules(file: FileSource, acl: Acl, msg: string): number {
    file.acl = acl;
    this.cache?.clear();
    this.logger.info({ rules: acl.size, path: file.path }, msg);
    for (const ch of this.broker?.connections() ?? []) this.guard.remark(ch.info, this.broker?.session(ch.clientId));
    return acl.size;
  }

  /** Adds a ban and disconnects the connected clients it covers; returns how many. */
  ban(ban: Ban): number {
    const b = this.banned.add(ban);
    this.logger.info({ as: b.as, who: b.who, by: b.by, reason: b.reason }, 'Banned');
    const broker = this.broker;
    if (!broker) return 0;
    const net = b.as === 'peerhost_net' ? parseNet(b.who) : undefined;
    const covers = (host: string) => (net ? netContains(net, host) : canonicalIp(host) === b.who);
    const hit = [...broker.connections()].filter((ch) => (b.as === 'clientid' ? ch.clientId === b.who : b.as === 'username' ? ch.username === b.who : covers(hostOf(ch.peer))));
    for (const ch of hit) broker.kick(ch.clientId);
    return hit.length;
  }

  /** `flapping_detect` in force (undefined: off). */
  get flappingOptions(): FlappingOptions | undefined {
    return this.flapping?.opts;
  }

  /**
   * Changes `flapping_detect` while the node runs (the HTTP API): new thresholds apply to the
   * next CONNECT, and the counts of CONNECTs so far are kept; turned off, they are forgotten.
   */
  setFlapping(opts: FlappingOptions | undefined): void {
    if (!opts) this.flapping = undefined;
    else if (this.flapping) this.flapping.opts = opts;
    else this.flapping = new FlappingDetector(opts);
  }

  /** Calls `fn` with each ban this node makes itself (flapping_detect). */
  onAutoBan(fn: (ban: Ban) => void): void {
    this.autoBanListeners.push(fn);
  }

  /** flapping_detect: one CONNECT too many bans the client id for ban_time (EMQX's `by`/`reason`). */
  private flapped(req: AuthenticateRequest): Ban | undefined {
    if (!this.flapping?.connect(req.clientId)) return undefined;
    const o = this.flapping.opts;
    const now = Date.now();
    const ban: Ban = { as: 'clientid', who: req.clientId, by: 'flapping detector', reason: 'flapping is detected', at: now, until: now + o.banMs };
    this.counters.flappingBanned++;
    this.logger.warn(
      { clientid: req.clientId, username: req.username, peer: req.peer, max_count: o.maxCount, window_time_ms: o.windowMs, ban_time_ms: o.banMs },
      'flapping_detected: client id banned',
    );
    // not this.ban(): a connection of this client id is not kicked (its session stays), only new CONNECTs are refused
    this.banned.add(ban);
    for (const fn of this.autoBanListeners) fn(ban);
    return ban;
  }

  private async authenticate(req: AuthenticateRequest): Promise<AuthResult> {
    const ban = this.banned.find(req.clientId, req.username, hostOf(req.peer)) ?? this.flapped(req);
    if (ban) {
      this.counters.bannedRefused++;
      this.logger.warn({ clientid: req.clientId, username: req.username, peer: req.peer, as: ban.as, who: ban.who }, 'Banned client refused');
      return { ok: false, reasonCode: RC.BANNED };
    }
    if (this.chain.empty) {
      this.counters.authnSuccessAnonymous++;
      return { ok: true };
    }
    const { outcome, by } = await this.chain.run(req);
    if (outcome.result === 'allow') {
      const attrs: Record<string, unknown> = {};
      if (outcome.acl) attrs.acl = outcome.acl;
      if (outcome.expireAt !== undefined) attrs.expireAt = outcome.expireAt;
      return { ok: true, isSuperuser: outcome.isSuperuser === true, attrs: outcome.acl || outcome.expireAt !== undefined ? attrs : undefined };
    }
    this.logger.warn({ clientid: req.clientId, username: req.username, peer: req.peer, authenticator: by ?? null, reason: outcome.reason }, 'Authentication failed');
    if (outcome.result === 'deny') return { ok: false, reasonCode: RC.BAD_USERNAME_OR_PASSWORD };
    // every authenticator passed it on: a client that gave credentials gets the same code as a
    // wrong password (no telling which user ids exist); one that gave none is not authorized
    return { ok: false, reasonCode: req.username !== undefined || req.password !== undefined ? RC.BAD_USERNAME_OR_PASSWORD : RC.NOT_AUTHORIZED };
  }

  /** Synchronous unless a source must be asked over the network (and the cache does not know). */
  private authorize(client: ClientInfo, action: AuthorizeAction, topic: string, qos?: number, retain?: boolean): boolean | Promise<boolean> {
    const c = this.counters;
    if (client.isSuperuser) {
      c.authzSuperuser++;
      c.authzAllow++;
      return true;
    }
    const own = client.attrs?.acl as Acl | undefined;
    if (own) {
      const d = own.check(client, own.usesAddress ? normalizeIp(hostOf(client.peer)) : '', action, topic, qos, retain);
      if (d !== 'nomatch') return this.decided(client, action, topic, d);
    }
    // no sources: nothing is checked beyond the client's own rules (the hook is there for those)
    if (this.sources.length === 0) {
      c.authzAllow++;
      return true;
    }
    const req: Req = { action, topic, qos, retain };
    const cache = this.cache;
    if (cache) {
      const hit = cache.get(client.clientId, req);
      if (hit !== undefined) {
        c.authzCacheHit++;
        return this.decided(client, action, topic, hit ? 'allow' : 'deny');
      }
      c.authzCacheMiss++;
    }
    return this.fromSources(client, req, 0);
  }

  private fromSources(client: ClientInfo, req: Req, from: number): boolean | Promise<boolean> {
    let ip: string | undefined;
    for (let i = from; i < this.sources.length; i++) {
      const s = this.sources[i];
      if (s.type === 'file') {
        const d = s.acl.check(client, s.acl.usesAddress ? (ip ??= normalizeIp(hostOf(client.peer))) : '', req.action, req.topic, req.qos, req.retain);
        if (d !== 'nomatch') return this.remember(client, req, d);
        continue;
      }
      return s.check(client, (ip ??= normalizeIp(hostOf(client.peer))), req).then((d) => (d !== 'nomatch' ? this.remember(client, req, d) : this.fromSources(client, req, i + 1)));
    }
    return this.remember(client, req, 'nomatch');
  }

  private remember(client: ClientInfo, req: Req, d: AclDecision): boolean {
    const allowed = this.decided(client, req.action, req.topic, d);
    this.cache?.set(client.clientId, req, allowed);
    return allowed;
  }

  private decided(client: ClientInfo, action: AuthorizeAction, topic: string, d: AclDecision): boolean {
    const c = this.counters;
    if (d === 'allow') c.authzMatchedAllow++;
    else if (d === 'deny') c.authzMatchedDeny++;
    else c.authzNomatch++;
    const allowed = d === 'allow' || (d === 'nomatch' && this.opts.authorization.noMatch === 'allow');
    if (allowed) {
      c.authzAllow++;
      return true;
    }
    // the channel logs a denied PUBLISH itself; a SUBSCRIBE is logged here
    this.logger[action === 'publish' ? 'debug' : 'info'](
      { clientid: client.clientId, username: client.username, peer: client.peer, action, topic, decision: d },
      'Authorization denied',
    );
    if (action === 'publish' && this.opts.authorization.denyAction === 'disconnect') {
      // EMQX's deny_action disconnect: DISCONNECT 0x87 instead of the PUBACK (the channel's ack then finds the socket closed)
      this.broker?.closeConnection(client, 'not_authorized', RC.NOT_AUTHORIZED);
    }
    return false;
  }
}

/** `::ffff:10.0.0.1` (IPv4 on a dual-stack socket) → `10.0.0.1`, so bans and rules name plain IPv4. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
