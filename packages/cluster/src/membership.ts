/**
 * Cluster membership as an operator sees it (EMQX's `cluster status|join|leave|force-leave`):
 * the view of every node this node knows (`running`, `stopped`, `down`), the peers kept in
 * `<data_dir>/cluster.json` so a restart rejoins them, the nodes removed by `leave` or
 * `force-leave` (not dialled, their dials refused unless they join again), `autoclean` of
 * nodes gone too long, and readiness. GrpcCluster owns the links; this decides who should
 * be linked.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Frame } from './wire.js';

export type MemberStatus = 'running' | 'stopped' | 'down';

export interface Member {
  node: string;
  /** Its cluster address (`host:port` of its gRPC port). */
  addr: string;
  status: MemberStatus;
  /** When it entered this status (ms since the epoch). */
  since: number;
}

/** `GET /api/v5/cluster`: EMQX's `self` and `nodes` (running), plus each status apart. */
export interface ClusterStatus {
  self: string;
  discovery_strategy: string;
  nodes: string[];
  running_nodes: string[];
  stopped_nodes: string[];
  down_nodes: string[];
  /** This node left its cluster and dials no one until it joins again. */
  left: boolean;
  members: Member[];
}

export type MembershipErrorCode = 'BAD_REQUEST' | 'NOT_FOUND' | 'ALREADY_IN_CLUSTER' | 'JOIN_FAILED';

export class MembershipError extends Error {
  constructor(
    readonly code: MembershipErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MembershipError';
  }
}

/** What membership needs from the cluster's links (GrpcCluster provides it). */
export interface MembershipLinks {
  readonly self: string;
  readonly strategy: string;
  advertise(): string;
  rpcPort(): number;
  running(): ReadonlySet<string>;
  /** The node an address turned out to be, once dialled. */
  nodeAt(addr: string): string | undefined;
  /** Dials `addr`; `join` says so in the hello (a removed node is let back in only then). */
  dial(addr: string, join: boolean): void;
  send(node: string, frame: Frame): void;
  /** Stops re-dialling an address learned from a peer's hello. */
  unlearn(addr: string): void;
  /** Says goodbye to every peer (`leave` frames) and closes every link; the port stays open. */
  leaveAll(): Promise<void>;
}

export interface MembershipOptions {
  /** `cluster.json` in the data dir; undefined keeps nothing across restarts. */
  file?: string;
  /** `cluster.autoclean`: a node not running for this long leaves the view; 0 never. */
  autocleanMs: number;
  /** How long a join waits for the named node to be running. */
  joinTimeoutMs?: number;
  logger: Logger;
}

interface Saved {
  peers: { node: string; addr: string }[];
  removed: { node: string; addr: string }[];
}

/** The reason a removed node's dial is refused with (its log line says what to do). */
export const REMOVED_REASON = 'this node was removed from the cluster (leave or force-leave); run `vireo ctl cluster join` on it to join again';

export class Membership {
  private readonly view = new Map<string, Member>();
  /** Nodes that left or were force-left, with their address: not dialled, refused unless joining. */
  private readonly removed = new Map<string, string>();
  private readonly unreachable = new Map<string, string>();
  private readonly refused = new Map<string, string>();
  private lastFound: string[] | undefined;
  private left = false;
  /** While `left`: addresses that dialled us since (an invite) may be dialled back. */
  private readonly welcome = new Set<string>();
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly links: MembershipLinks,
    private readonly options: MembershipOptions,
  ) {
    this.log = options.logger;
    this.load();
    const ms = options.autocleanMs;
    if (ms > 0) {
      this.timer = setInterval(() => this.autoclean(), Math.min(Math.max(Math.floor(ms / 10), 100), 60_000));
      this.timer.unref();
    }
  }

  // ── what GrpcCluster tells us ─────────────────────────────────────────────

  /** A peer became running or stopped being so (`stopped` when it said goodbye). */
  seen(node: string, status: MemberStatus, addr: string | undefined): void {
    const prev = this.view.get(node);
    if (this.removed.has(node) && status !== 'running') {
      if (prev) {
        this.view.delete(node);
        this.log.info({ peer_node: node }, 'Cluster node removed from the cluster view');
      }
      return;
    }
    if (this.left && status !== 'running') return;
    if (this.left) {
      // invited (a node dialled us and we are linked): in a cluster again, discovery included
      this.left = false;
      this.welcome.clear();
    }
    const a = addr ?? prev?.addr ?? '';
    this.view.set(node, { node, addr: a, status, since: Date.now() });
    if (status === 'running' && (prev === undefined || prev.addr !== a)) this.save();
  }

  /** A dial reached no one (or failed TLS): counts as "no peer there" for readiness. */
  dialFailed(addr: string, reason: string): void {
    this.unreachable.set(addr, reason);
  }

  dialRefused(addr: string, reason: string): void {
    // it answered: someone is there, not joined
    this.unreachable.delete(addr);
    this.refused.set(addr, reason);
  }

  dialUp(addr: string): void {
    this.unreachable.delete(addr);
    this.refused.delete(addr);
  }

  /** Whether a peer's hello is let in; a reason to refuse it otherwise. */
  admit(node: string, join: boolean, addr: string): string | undefined {
    if (this.removed.has(node)) {
      if (!join) return REMOVED_REASON;
      this.unremove(node);
      this.log.info({ peer_node: node, peer: addr }, 'Removed cluster node joins again');
    }
    if (this.left && addr) this.welcome.add(addr);
    return undefined;
  }

  /** Whether `addr` must not be dialled now. */
  blocked(addr: string, join: boolean): boolean {
    if (this.removedAddr(addr)) return !join;
    if (this.left) return !join && !this.welcome.has(addr);
    return false;
  }

  /** The addresses to dial this round besides discovery's and learned ones: saved peers. */
  extraCandidates(): string[] {
    const out: string[] = [];
    for (const m of this.view.values()) if (m.status !== 'running' && m.addr) out.push(m.addr);
    return out;
  }

  /** A discovery round ended with these candidates (readiness needs one). */
  discovered(found: readonly string[]): void {
    this.lastFound = [...found];
  }

  /** A peer is up (our dial of it): it gets the members we know, so it meshes with them. */
  greet(node: string): void {
    const members = [{ node: this.links.self, addr: this.links.advertise() }];
    const running = this.links.running();
    for (const m of this.view.values()) if (running.has(m.node) && m.node !== node && m.addr) members.push({ node: m.node, addr: m.addr });
    this.links.send(node, { members: { members, forget: [] } });
  }

  /** A members frame from `from`. */
  receive(from: string, f: NonNullable<Frame['members']>): void {
    for (const gone of f.forget ?? []) {
      if (gone === this.links.self) {
        this.log.warn({ peer_node: from }, 'Removed from the cluster by force-leave on another node; leaving');
        void this.leave();
      } else if (gone === from) {
        this.remove(gone, 'left the cluster');
      } else {
        this.remove(gone, `force-leave on ${from}`);
      }
    }
    if (this.left) return;
    const running = this.links.running();
    for (const m of f.members ?? []) {
      if (m.node === this.links.self || running.has(m.node) || this.removed.has(m.node) || !m.addr) continue;
      this.links.dial(m.addr, true);
    }
  }

  // ── operations (HTTP API, ctl) ────────────────────────────────────────────

  status(): ClusterStatus {
    const self: Member = { node: this.links.self, addr: this.links.advertise(), status: 'running', since: 0 };
    const members = [self, ...this.view.values()].sort((a, b) => a.node.localeCompare(b.node));
    const by = (s: MemberStatus) => members.filter((m) => m.status === s).map((m) => m.node);
    const running = by('running');
    return {
      self: this.links.self,
      discovery_strategy: this.links.strategy,
      nodes: running,
      running_nodes: running,
      stopped_nodes: by('stopped'),
      down_nodes: by('down'),
      left: this.left,
      members,
    };
  }

  /**
   * This node joins the cluster `target` is in (`name@host`, or `host:port` of its gRPC
   * port). A node already in another cluster leaves it first (`leaveFirst`, as EMQX's join).
   * Resolves once `target` is running here.
   */
  async join(target: string, leaveFirst = true): Promise<{ node: string; addr: string }> {
    const addr = this.resolve(target);
    const known = this.links.nodeAt(addr);
    if (addr === this.links.advertise() || known === this.links.self) throw new MembershipError('BAD_REQUEST', `${target} is this node`);
    if (known !== undefined && this.links.running().has(known)) {
      throw new MembershipError('ALREADY_IN_CLUSTER', `already in a cluster with ${known}`);
    }
    if (leaveFirst && this.links.running().size > 0) await this.leave();
    this.left = false;
    this.welcome.clear();
    for (const [node, a] of this.removed) if (a === addr || node === known) this.unremove(node);
    this.unreachable.delete(addr);
    this.refused.delete(addr);
    this.log.info({ peer: addr, target }, 'Joining cluster');
    this.links.dial(addr, true);
    // under ctl's 10 s request timeout, so a slow join is reported as such, not as an unreachable API
    const until = Date.now() + (this.options.joinTimeoutMs ?? 8000);
    for (;;) {
      const node = this.links.nodeAt(addr);
      if (node !== undefined && this.links.running().has(node)) {
        this.log.info({ peer_node: node, peer: addr }, 'Joined cluster');
        return { node, addr };
      }
      const why = this.refused.get(addr) ?? this.unreachable.get(addr);
      if (why !== undefined) throw new MembershipError('JOIN_FAILED', `cannot join ${target} (${addr}): ${why}`);
      if (Date.now() > until) throw new MembershipError('JOIN_FAILED', `cannot join ${target} (${addr}): no answer within ${this.options.joinTimeoutMs ?? 8000} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** This node leaves its cluster cleanly: peers mark it `stopped` and forget it; it dials no one until it joins again. */
  async leave(): Promise<void> {
    const running = [...this.links.running()];
    for (const node of running) this.links.send(node, { members: { members: [], forget: [this.links.self] } });
    this.left = true;
    this.welcome.clear();
    await this.links.leaveAll();
    for (const m of this.view.values()) this.links.unlearn(m.addr);
    this.view.clear();
    this.save();
    this.log.info({ peers: running }, 'Left the cluster');
  }

  /** Removes another node from the cluster (EMQX's force-leave): every node forgets it; a running one is told to leave. */
  forceLeave(node: string): void {
    if (node === this.links.self) throw new MembershipError('BAD_REQUEST', 'a node cannot force-leave itself; use leave');
    if (!this.view.has(node)) throw new MembershipError('NOT_FOUND', `${node} is not in the cluster`);
    for (const peer of this.links.running()) this.links.send(peer, { members: { members: [], forget: [node] } });
    this.remove(node, 'force-leave');
  }

  /** Ready for traffic as a cluster member (readiness probe); see docs/clustering.md § Readiness. */
  ready(): boolean {
    if (this.left || this.links.running().size > 0) return true;
    if (this.lastFound === undefined) return false;
    const self = this.links.advertise();
    const candidates = new Set([...this.lastFound, ...this.extraCandidates()]);
    for (const addr of candidates) {
      if (addr === self || this.links.nodeAt(addr) === this.links.self || this.removedAddr(addr)) continue;
      // a peer that answers but is not running yet (handshake, refusal) is one we wait for
      if (!this.unreachable.has(addr)) return false;
    }
    return true;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  // ── inside ────────────────────────────────────────────────────────────────

  private resolve(target: string): string {
    const at = target.indexOf('@');
    if (at > 0) {
      const m = this.view.get(target) ?? [...this.view.values()].find((v) => v.node === target);
      if (m?.addr) return m.addr;
      const host = target.slice(at + 1);
      if (!/^[\w.:-]+$/.test(host)) throw new MembershipError('BAD_REQUEST', `${target}: expected a node name name@host or host:port`);
      // as EMQX's node names: the host part, on the same cluster port as this node
      return host.includes(':') ? `[${host}]:${this.links.rpcPort()}` : `${host}:${this.links.rpcPort()}`;
    }
    const hp = /^(\[[0-9a-fA-F:.]+\]|[\w.-]+):(\d{1,5})$/.exec(target);
    if (!hp || Number(hp[2]) < 1 || Number(hp[2]) > 65535) {
      throw new MembershipError('BAD_REQUEST', `${target}: expected a node name name@host or host:port`);
    }
    return target;
  }

  private remove(node: string, why: string): void {
    const addr = this.view.get(node)?.addr ?? this.removed.get(node) ?? '';
    this.removed.set(node, addr);
    if (addr) this.links.unlearn(addr);
    if (addr) this.unreachable.delete(addr);
    // a running node stays in the view until its links close (it was told to leave)
    if (this.links.running().has(node)) {
      this.log.info({ peer_node: node, reason: why }, 'Cluster node removed; it leaves the view once its links close');
    } else {
      this.view.delete(node);
      this.log.info({ peer_node: node, reason: why }, 'Cluster node removed from the cluster view');
    }
    this.save();
  }

  private unremove(node: string): void {
    this.removed.delete(node);
    this.save();
  }

  private removedAddr(addr: string): boolean {
    const node = this.links.nodeAt(addr);
    if (node !== undefined && this.removed.has(node)) return true;
    for (const a of this.removed.values()) if (a === addr) return true;
    return false;
  }

  private autoclean(): void {
    const now = Date.now();
    let changed = false;
    for (const m of [...this.view.values()]) {
      if (m.status === 'running' || now - m.since < this.options.autocleanMs) continue;
      this.view.delete(m.node);
      this.unreachable.delete(m.addr);
      this.links.unlearn(m.addr);
      changed = true;
      this.log.warn({ peer_node: m.node, peer: m.addr, status: m.status, for_ms: now - m.since }, 'Cluster node autocleaned: not running for cluster.autoclean');
    }
    if (changed) this.save();
  }

  private load(): void {
    const file = this.options.file;
    if (!file) return;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ file, err: String(err) }, 'Cannot read the saved cluster membership; starting without it');
      return;
    }
    try {
      const saved = JSON.parse(text) as Partial<Saved>;
      const now = Date.now();
      // not reached yet since this start: `down` until they answer
      for (const p of saved.peers ?? []) {
        if (typeof p.node === 'string' && typeof p.addr === 'string') this.view.set(p.node, { node: p.node, addr: p.addr, status: 'down', since: now });
      }
      for (const r of saved.removed ?? []) if (typeof r.node === 'string' && typeof r.addr === 'string') this.removed.set(r.node, r.addr);
      if (this.view.size > 0) this.log.info({ file, peers: [...this.view.keys()] }, 'Rejoining the saved cluster members');
    } catch (err) {
      this.log.warn({ file, err: String(err) }, 'The saved cluster membership is corrupt; starting without it');
    }
  }

  private save(): void {
    const file = this.options.file;
    if (!file) return;
    const saved: Saved = {
      peers: [...this.view.values()].filter((m) => m.addr && !this.removed.has(m.node)).map((m) => ({ node: m.node, addr: m.addr })),
      removed: [...this.removed].map(([node, addr]) => ({ node, addr })),
    };
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      // write then rename: a crash mid-write leaves the old file, never half of one
      fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(saved, null, 2)}\n`);
      fs.renameSync(`${file}.tmp`, file);
    } catch (err) {
      this.log.error({ file, err: String(err) }, 'Cannot save the cluster membership');
    }
  }
}
