import * as grpc from '@grpc/grpc-js';
import type { AdminCallHandler, ClusterHost, ClusterLink, ClusterPeerStats, Message, SessionState, SharedStrategy } from '@vireo/broker';
import type { Logger } from 'pino';
import type { Discovery } from './discovery.js';
import { Inbound, type InboundEvents } from './inbound.js';
import { Outbound, type OutboundEvents } from './outbound.js';
import { RouteTable, routeKey } from './route-table.js';
import { ClientLock } from './client-lock.js';
import { ForwardAcks } from './forward-acks.js';
import { AdminRpc } from './admin-rpc.js';
import { decodeDeliveries, decodeState, encodeDeliveries, encodeState } from './session-codec.js';
import { pickNode } from './shared-pick.js';
import { Membership, REMOVED_REASON } from './membership.js';
import { channelCredentials, isTlsFailure, listenRpc, type RpcListener, type RpcTls } from './rpc-tls.js';
import { PeerStats } from './peer-stats.js';
import { CHANNEL_OPTIONS, PeerService, fromWire, toWire, type Frame, type PeerServerStream, type WireMsg, type WireRoute } from './wire.js';

export interface ClusterOptions {
  node: string;
  cookie: string;
  /** Where the gRPC port listens. */
  bind: { host: string; port: number };
  /** The address peers dial for this node; default: the bind host, or the node name's host when binding all interfaces. */
  advertise?: string;
  discovery: Discovery;
  sharedStrategy: SharedStrategy;
  logger: Logger;
  heartbeatMs?: number;
  /** Silence after which a peer is `down`. */
  timeoutMs?: number;
  /** How often discovery is asked again and missing peers dialled. */
  retryMs?: number;
  /** How long a CONNECT waits for the old node to hand over a session. */
  takeoverTimeoutMs?: number;
  /** `<data_dir>/cluster.json`: joined peers kept across restarts (membership.ts). */
  membershipFile?: string;
  /** `cluster.autoclean` in ms (0: never). */
  autocleanMs?: number;
  /** mTLS on the gRPC port (`cluster.rpc.driver = ssl`). */
  tls?: RpcTls;
  /** `cluster.autoheal`: settle clientids found on both sides of a partition when it heals (default true). */
  autoheal?: boolean;
  /** How long an admin call waits for a peer's answer (`cluster.rpc.call_receive_timeout`). */
  callTimeoutMs?: number;
}

interface PendingClaim {
  node: string;
  clientId: string;
  clean: boolean;
  startedAt: number;
  timer: NodeJS.Timeout;
  resolve(state: SessionState | undefined): void;
  /** How often the claim was sent on to the node the session had just moved to. */
  hops?: number;
}

/** A forward frame is closed at about this many bytes; the next messages start another. */
const FRAME_BYTES = 1 << 20;

interface Queue {
  frames: Frame[];
  /** Bytes in the last frame when it is a forward frame (0 otherwise). */
  open: number;
  /** Forwarded messages queued, and their topic + payload bytes (peer-stats.ts). */
  msgs: number;
  bytes: number;
}

/** Starts the gRPC port and discovery; the broker then `attach`es. */
export async function startCluster(options: ClusterOptions): Promise<GrpcCluster> {
  const cluster = new GrpcCluster(options);
  await cluster.listen();
  return cluster;
}

/**
 * `ClusterLink` over gRPC: membership (handshake, heartbeats, running/down), route
 * replication, forwarding and retained replication. Each node opens one stream to each
 * peer and sends everything for that peer through it, so per-publisher order holds.
 */
export class GrpcCluster implements ClusterLink {
  readonly node: string;
  sharedElsewhere: ReadonlySet<string> | undefined;
  private host: ClusterHost | undefined;
  private readonly log: Logger;
  private readonly server = new grpc.Server(CHANNEL_OPTIONS);
  private port = 0;
  private advertise = '';
  private readonly heartbeatMs: number;
  private readonly timeoutMs: number;
  private readonly retryMs: number;

  private readonly outByAddr = new Map<string, Outbound>();
  private readonly outByNode = new Map<string, Outbound>();
  private readonly inByNode = new Map<string, Inbound>();
  private readonly inbounds = new Set<Inbound>();
  /** Peer addresses learned from peers that dialled us (we dial back). */
  private readonly learned = new Set<string>();
  /** Address → the node it turned out to be (to skip duplicates and ourselves). */
  private readonly aliases = new Map<string, string>();
  private readonly refusalLogged = new Map<string, number>();
  private readonly running = new Set<string>();
  /** Peers that said they are stopping: reported `stopped` rather than `down`. */
  private readonly leaving = new Set<string>();

  private readonly routes = new RouteTable();
  private readonly remoteSeq = new Map<string, number>();
  private readonly local = new Map<string, WireRoute>();
  private pendingAdd: WireRoute[] = [];
  private pendingDel: WireRoute[] = [];
  /** The client registry and the per-clientid claims (client-lock.ts). */
  private readonly lock: ClientLock;
  /** Acknowledged forwarding of QoS 1/2 messages (forward-acks.ts). */
  private readonly acks = new ForwardAcks();
  private readonly claims = new Map<number, PendingClaim>();
  private claimSeq = 0;
  private seq = 0;

  private readonly queues = new Map<string, Queue>();
  private flushScheduled = false;
  private readonly retainedMeta = new Map<string, { ts: number; node: string }>();
  private readonly rr = new Map<string, { value: number }>();
  /** Who is in the cluster, who was removed, autoclean, readiness (membership.ts). */
  readonly members: Membership;
  private readonly credentials: grpc.ChannelCredentials;
  /** Set while `cluster leave` closes the links: they close because of us. */
  private quitting = false;
  private listener: RpcListener | undefined;

  // per-forward state for the trie visitors
  private curTargets = new Map<string, string[] | null>();
  private curMsg: Message | undefined;
  private discoverTimer: NodeJS.Timeout | undefined;
  private discovering = false;
  private closed = false;

  constructor(private readonly options: ClusterOptions) {
    this.node = options.node;
    this.log = options.logger;
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.acks.onRoundTrip = (node, ms) => this.stats.forwardAck(node, ms);
    this.retryMs = options.retryMs ?? 2000;
    this.credentials = channelCredentials(options.tls);
    this.members = new Membership(
      {
        self: this.node,
        strategy: options.discovery.strategy,
        advertise: () => this.advertise,
        rpcPort: () => this.port,
        running: () => this.running,
        nodeAt: (addr) => this.aliases.get(addr),
        dial: (addr, join) => this.dial(addr, join),
        send: (node, frame) => this.enqueue(node, frame),
        unlearn: (addr) => this.learned.delete(addr),
        leaveAll: () => this.leaveAll(),
      },
      { file: options.membershipFile, autocleanMs: options.autocleanMs ?? 24 * 3_600_000, logger: this.log },
    );
    this.lock = new ClientLock({
      node: this.node,
      autoheal: options.autoheal ?? true,
      logger: this.log,
      // a clean-start takeover by nobody: the connection gets 0x8E, the session ends (`discarded`)
      discardLocal: (clientId) => void this.host?.takeoverBegin(clientId, true),
    });
    this.admin = new AdminRpc({
      self: this.node,
      logger: this.log,
      timeoutMs: options.callTimeoutMs ?? 5000,
      send: (node, frame) => this.enqueue(node, frame),
      isUp: (node) => this.running.has(node),
    });
  }

  // ── admin calls (admin-rpc.ts) ────────────────────────────────────────────

  private readonly admin: AdminRpc;

  serveAdmin(handler: AdminCallHandler): void {
    this.admin.serve(handler);
  }

  callNode(node: string, op: string, args: unknown): Promise<unknown> {
    return this.admin.call(node, op, args);
  }

  async listen(): Promise<void> {
    const { host, port } = this.options.bind;
    const addr = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.server.addService(PeerService.service, { Link: (call: PeerServerStream) => this.accept(call) });
    try {
      this.listener = await listenRpc(this.server, host, port, this.options.tls, this.log);
      this.port = this.listener.port;
    } catch (err) {
      throw new Error(`cluster.rpc.bind: cannot listen on ${addr}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const anyHost = host === '0.0.0.0' || host === '::';
    const advHost = anyHost ? this.node.slice(this.node.indexOf('@') + 1) : host;
    this.advertise = this.options.advertise ?? (advHost.includes(':') ? `[${advHost}]:${this.port}` : `${advHost}:${this.port}`);
    this.log.info(
      { bind: addr, port: this.port, advertise: this.advertise, discovery: this.options.discovery.strategy, tls: this.options.tls !== undefined },
      'Cluster RPC listening',
    );
  }

  get rpcPort(): number {
    return this.port;
  }

  attach(host: ClusterHost): void {
    this.host = host;
    for (const r of host.localRoutes()) this.addRoute(r.filter, r.group);
    const d = this.options.discovery;
    if (d.start) {
      d.start({ node: this.node, addr: this.advertise }, () => void this.discover()).then(
        () => void this.discover(),
        (err: unknown) => this.log.warn({ discovery: d.strategy, err: String(err) }, 'Cluster discovery failed to start, retrying'),
      );
    }
    void this.discover();
    this.discoverTimer = setInterval(() => void this.discover(), this.retryMs);
    this.discoverTimer.unref();
  }

  nodes(): string[] {
    return [this.node, ...this.running].sort();
  }

  /** Per-peer counters and round trips (peer-stats.ts); routes: ours plus every peer's. */
  private readonly stats = new PeerStats();

  peerStats(): ClusterPeerStats {
    const v = this.stats.view(this.running, this.local.size + this.routes.size);
    // stopped as `cluster status` says: the view's nodes not running, until autoclean or force-leave
    return { ...v, stoppedNodes: this.members.status().members.filter((m) => m.status !== 'running').map((m) => m.node) };
  }

  // ── routes ────────────────────────────────────────────────────────────────

  addRoute(filter: string, group: string | undefined): void {
    const r = { filter, group: group ?? '' };
    const key = routeKey(r);
    if (this.local.has(key)) return;
    this.local.set(key, r);
    this.pendingAdd.push(r);
    this.schedule();
  }

  deleteRoute(filter: string, group: string | undefined): void {
    const r = { filter, group: group ?? '' };
    if (!this.local.delete(routeKey(r))) return;
    this.pendingDel.push(r);
    this.schedule();
  }

  // ── client registry and takeover ──────────────────────────────────────────

  registerClient(clientId: string): void {
    this.lock.claim(clientId);
    this.schedule();
  }

  unregisterClient(clientId: string): void {
    this.lock.release(clientId);
    this.schedule();
  }

  claimClient(clientId: string, cleanStart: boolean): Promise<SessionState | undefined> | undefined {
    const owner = this.lock.ownerElsewhere(clientId);
    if (owner === undefined || !this.outByNode.has(owner)) return undefined;
    const id = ++this.claimSeq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.claims.delete(id);
        this.log.warn({ clientid: clientId, peer_node: owner }, 'Takeover from another node timed out, starting a new session');
        resolve(undefined);
        this.runDeferred(clientId);
      }, this.options.takeoverTimeoutMs ?? 5000);
      this.claims.set(id, { node: owner, clientId, clean: cleanStart, startedAt: Date.now(), timer, resolve });
      this.enqueue(owner, { takeover: { id, clientid: clientId, clean: cleanStart } });
    });
  }

  /** The old node's answer to phase 1. */
  private onTakeoverReply(node: string, id: number, state: SessionState | undefined, movedTo = ''): void {
    const claim = this.claims.get(id);
    if (!claim || claim.node !== node) return;
    // another CONNECT got the session a moment before us: take it over from where it went
    if (!state && movedTo !== '' && movedTo !== this.node && (claim.hops ?? 0) < 2 && this.outByNode.has(movedTo)) {
      claim.node = movedTo;
      claim.hops = (claim.hops ?? 0) + 1;
      this.enqueue(movedTo, { takeover: { id, clientid: claim.clientId, clean: claim.clean } });
      return;
    }
    this.claims.delete(id);
    clearTimeout(claim.timer);
    this.log.info(
      { clientid: claim.clientId, peer_node: node, clean_start: claim.clean, moved: state !== undefined, ms: Date.now() - claim.startedAt },
      state ? 'Session taken over from another node' : 'Session on another node ended',
    );
    // phase 2 goes out in the next flush, after the route changes the new session makes now
    if (state) this.enqueue(node, { takeover_end: { clientid: claim.clientId } });
    claim.resolve(state);
    this.runDeferred(claim.clientId);
  }

  /** Takeover requests for a clientid this node is itself taking over wait until it has the session. */
  private readonly deferred = new Map<string, (() => void)[]>();

  private claiming(clientId: string): boolean {
    for (const c of this.claims.values()) if (c.clientId === clientId) return true;
    return false;
  }

  private runDeferred(clientId: string): void {
    const waiting = this.deferred.get(clientId);
    if (!waiting) return;
    this.deferred.delete(clientId);
    // after the CONNECT that waited has installed the session (its continuation runs first)
    setImmediate(() => {
      for (const run of waiting) run();
    });
  }

  private enqueue(node: string, frame: Frame): void {
    const q = this.queue(node);
    q.frames.push(frame);
    q.open = 0;
    this.schedule();
  }

  // ── forwarding ────────────────────────────────────────────────────────────

  forward(msg: Message): number {
    this.sharedElsewhere = undefined;
    if (msg.retain) this.replicateRetained(msg);
    if (this.outByNode.size === 0) return 0;
    const targets = this.curTargets;
    targets.clear();
    this.curMsg = msg;
    this.routes.plain.match(msg.topic, this.visitPlain);
    if (this.routes.shared.size > 0) this.routes.shared.match(msg.topic, this.visitShared);
    this.curMsg = undefined;
    if (targets.size === 0) return 0;
    const wire = toWire(msg);
    const size = msg.payload.length + msg.topic.length + 64;
    for (const [node, groups] of targets) this.enqueueMsg(node, groups ? { ...wire, groups } : wire, size);
    return targets.size;
  }

  private readonly visitPlain = (node: string): void => {
    if (this.outByNode.has(node) && !this.curTargets.has(node)) this.curTargets.set(node, null);
  };

  private readonly visitShared = (group: string, nodes: Set<string>, filter: string): void => {
    const msg = this.curMsg!;
    const selfHas = this.local.has(routeKey({ filter, group }));
    const candidates: string[] = [];
    for (const n of nodes) if (this.outByNode.has(n)) candidates.push(n);
    if (candidates.length === 0) return;
    if (selfHas) candidates.push(this.node);
    candidates.sort();
    const key = `${group}/${filter}`;
    let counter = this.rr.get(key);
    if (!counter) this.rr.set(key, (counter = { value: 0 }));
    const chosen = pickNode(this.options.sharedStrategy, candidates, this.node, selfHas, counter, msg.from, msg.topic);
    if (chosen === this.node) return;
    const elsewhere = (this.sharedElsewhere as Set<string> | undefined) ?? new Set<string>();
    elsewhere.add(key);
    this.sharedElsewhere = elsewhere;
    const list = this.curTargets.get(chosen);
    if (list) list.push(key);
    else this.curTargets.set(chosen, [key]);
  };

  private enqueueMsg(node: string, wire: WireMsg, size: number): void {
    const q = this.queue(node);
    const last = q.frames[q.frames.length - 1];
    if (last?.forward && q.open > 0 && q.open < FRAME_BYTES) {
      last.forward.msgs.push(wire);
      q.open += size;
    } else {
      q.frames.push({ forward: { msgs: [wire] } });
      q.open = size;
    }
    q.msgs++;
    q.bytes += wire.payload.length + wire.topic.length;
    this.schedule();
  }

  private queue(node: string): Queue {
    let q = this.queues.get(node);
    if (!q) this.queues.set(node, (q = { frames: [], open: 0, msgs: 0, bytes: 0 }));
    return q;
  }

  // ── retained ──────────────────────────────────────────────────────────────

  /** A local retained publish: this node is the latest writer; every peer gets a copy. */
  private replicateRetained(msg: Message): void {
    this.retainedMeta.set(msg.topic, { ts: msg.timestamp, node: this.node });
    if (this.outByNode.size === 0) return;
    const entry = { msg: toWire(msg), origin: this.node };
    for (const node of this.outByNode.keys()) {
      const q = this.queue(node);
      q.frames.push({ retained: { entries: [entry] } });
      q.open = 0;
    }
    this.schedule();
  }

  private receiveRetained(w: WireMsg, origin: string): void {
    const meta = this.retainedMeta.get(w.topic);
    const ts = w.timestamp ?? 0;
    // last writer wins: newer timestamp, then the greater node name
    if (meta && (meta.ts > ts || (meta.ts === ts && meta.node >= origin))) return;
    this.retainedMeta.set(w.topic, { ts, node: origin });
    this.host?.retainLocal(fromWire(w));
  }

  // ── sending ───────────────────────────────────────────────────────────────

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.pendingAdd.length + this.pendingDel.length > 0 || this.lock.hasDelta()) {
      this.seq++;
      const c = this.lock.takeDelta();
      const frame: Frame = {
        routes: { snapshot: false, seq: this.seq, add: this.pendingAdd, del: this.pendingDel, clients_add: c.add, clients_del: c.del, clients_add_ts: c.stamps },
      };
      this.pendingAdd = [];
      this.pendingDel = [];
      for (const out of this.outByNode.values()) out.send(frame);
    }
    for (const [node, q] of this.queues) {
      const out = this.outByNode.get(node);
      if (out) {
        for (const f of q.frames) {
          if (f.forward) this.acks.sent(node, f.forward);
          out.send(f);
        }
      }
      if (out && q.msgs > 0) this.stats.forwarded(node, q.msgs, q.bytes);
    }
    this.queues.clear();
    if (this.acks.hasAcks()) for (const [origin, ack] of this.acks.takeAcks()) this.outByNode.get(origin)?.send({ forward_ack: ack });
  }

  // ── membership ────────────────────────────────────────────────────────────

  private async discover(): Promise<void> {
    if (this.discovering || this.closed) return;
    this.discovering = true;
    try {
      let found: string[] = [];
      try {
        found = await this.options.discovery.candidates();
      } catch (err) {
        this.log.warn({ discovery: this.options.discovery.strategy, err: String(err) }, 'Cluster discovery failed, retrying');
      }
      this.members.discovered(found);
      for (const addr of new Set([...found, ...this.learned, ...this.members.extraCandidates()])) this.dial(addr);
    } finally {
      this.discovering = false;
    }
  }

  private dial(addr: string, join = false): void {
    if (this.closed || addr === this.advertise || this.outByAddr.has(addr) || this.members.blocked(addr, join)) return;
    const known = this.aliases.get(addr);
    if (known === this.node || (known !== undefined && this.outByNode.has(known))) return;
    const link = new Outbound(
      addr,
      {
        self: this.node,
        advertise: this.advertise,
        cookie: this.options.cookie,
        heartbeatMs: this.heartbeatMs,
        timeoutMs: this.timeoutMs,
        join,
        credentials: this.credentials,
      },
      this.outboundEvents,
    );
    this.outByAddr.set(addr, link);
  }

  private readonly outboundEvents: OutboundEvents = {
    up: (link) => {
      const node = link.node!;
      this.aliases.set(link.addr, node);
      this.refusalLogged.delete(link.addr);
      this.members.dialUp(link.addr);
      if (node === this.node) return link.close('self');
      if (this.outByNode.has(node)) return link.close('duplicate');
      this.outByNode.set(node, link);
      // a (re)connected peer gets everything first: routes, then retained messages
      const c = this.lock.snapshot(this.host?.localClients() ?? []);
      link.send({ routes: { snapshot: true, seq: this.seq, add: [...this.local.values()], del: [], clients_add: c.add, clients_del: [], clients_add_ts: c.stamps } });
      const retained = this.host?.retainedMessages() ?? [];
      if (retained.length > 0) {
        link.send({
          retained: {
            entries: retained.map((m) => ({ msg: toWire(m), origin: this.retainedMeta.get(m.topic)?.node ?? this.node })),
          },
        });
      }
      // QoS 1/2 forwards it had not acknowledged when the link went down go again, before anything new
      const again = this.acks.resend(node);
      for (const f of again.frames) link.send(f);
      if (again.msgs + again.dropped > 0) {
        this.log.info({ peer_node: node, messages: again.msgs, dropped: again.dropped }, 'Unacknowledged forwards sent again to cluster node');
      }
      this.acks.linkUp(node);
      this.schedule();
      this.members.greet(node);
      this.membership(node, 'connected');
    },
    down: (link, reason) => {
      if (this.outByAddr.get(link.addr) === link) this.outByAddr.delete(link.addr);
      const node = link.node;
      if (node === undefined || this.outByNode.get(node) !== link) {
        if (node === undefined) this.members.dialFailed(link.addr, reason);
        if (node === undefined && this.options.tls && isTlsFailure(reason)) this.tlsRefused(link.addr, reason);
        else this.log.debug({ peer: link.addr, reason }, 'Cluster peer not reachable');
        return;
      }
      this.outByNode.delete(node);
      // forwards still queued for it keep their QoS 1/2 messages until it is back
      for (const f of this.queues.get(node)?.frames ?? []) if (f.forward) this.acks.sent(node, f.forward);
      this.queues.delete(node);
      this.admin.nodeDown(node, reason);
      this.membership(node, reason);
      // dial again soon rather than at the next scheduled round
      if (!this.closed) setTimeout(() => this.dial(link.addr), 200).unref();
    },
    rtt: (link, ms) => {
      if (link.node !== undefined) this.stats.rtt(link.node, ms);
    },
    refused: (link, reason) => {
      this.members.dialRefused(link.addr, reason);
      if (this.refusalLogged.has(link.addr)) return;
      this.refusalLogged.set(link.addr, Date.now());
      this.log.error(
        { peer: link.addr, peer_node: link.node, reason },
        reason === REMOVED_REASON ? `Refused by cluster peer: ${reason}` : `Refused by cluster peer: ${reason} (node.cookie must be the same on every node)`,
      );
    },
  };

  private accept(call: PeerServerStream): void {
    if (this.closed) {
      call.end();
      return;
    }
    const link = new Inbound(
      call,
      {
        self: this.node,
        cookie: this.options.cookie,
        heartbeatMs: this.heartbeatMs,
        timeoutMs: this.timeoutMs,
        admit: (node, join, addr) => this.members.admit(node, join, addr),
      },
      this.inboundEvents,
    );
    this.inbounds.add(link);
  }

  private readonly inboundEvents: InboundEvents = {
    up: (link) => {
      const node = link.node;
      if (node === this.node) return link.close('self');
      this.inByNode.get(node)?.close('replaced by a new connection');
      this.inByNode.set(node, link);
      this.remoteSeq.delete(node);
      if (link.addr && !this.learned.has(link.addr)) {
        this.learned.add(link.addr);
      }
      // dial back at once: the peer's routes arrive here, ours must reach it
      if (link.addr && !this.outByNode.has(node)) this.dial(link.addr);
      this.membership(node, 'connected');
    },
    frame: (link, f) => this.receive(link, f),
    down: (link, reason) => {
      this.inbounds.delete(link);
      const node = link.node;
      if (this.inByNode.get(node) !== link) return;
      this.inByNode.delete(node);
      this.remoteSeq.delete(node);
      const purged = this.routes.purge(node);
      this.lock.registry.purge(node);
      if (purged > 0) this.log.info({ peer_node: node, routes: purged }, 'Purged routes of cluster node');
      this.membership(node, reason);
    },
    refused: (link, node, reason) => {
      this.inbounds.delete(link);
      const last = this.refusalLogged.get(`in:${node}`) ?? 0;
      if (Date.now() - last < 60_000) return;
      this.refusalLogged.set(`in:${node}`, Date.now());
      this.log.error(
        { peer: link.peer, peer_node: node, reason },
        reason === REMOVED_REASON ? `Refused cluster peer ${node}: it was removed from the cluster` : `Refused cluster peer: ${reason} (it has a different node.cookie)`,
      );
    },
  };

  private receive(link: Inbound, f: Frame): void {
    const node = link.node;
    if (f.forward) {
      const host = this.host;
      if (!host) return;
      const fresh = this.acks.accept(node, f.forward);
      this.schedule(); // the acknowledgement
      if (!fresh) return; // sent again after a link reset, and applied before
      for (const w of f.forward.msgs) host.dispatchLocal(fromWire(w), w.groups && w.groups.length > 0 ? w.groups : undefined);
    } else if (f.forward_ack) {
      this.acks.acked(node, f.forward_ack.epoch, f.forward_ack.seq);
    } else if (f.routes) {
      const { snapshot, seq, add, del, clients_add, clients_del, clients_add_ts } = f.routes;
      if (snapshot) {
        this.routes.replace(node, add);
        this.lock.receive(node, clients_add, clients_add_ts ?? [], [], true);
        this.remoteSeq.set(node, seq ?? 0);
        this.log.debug({ peer_node: node, routes: add.length, seq }, 'Cluster routes snapshot');
        return;
      }
      const last = this.remoteSeq.get(node);
      if (last === undefined || seq <= last) return;
      if (seq !== last + 1) {
        // one ordered stream cannot lose a batch; if it happens, start over from a snapshot
        this.log.warn({ peer_node: node, expected: last + 1, got: seq }, 'Cluster route sequence gap, resyncing');
        link.close('route sequence gap');
        return;
      }
      this.remoteSeq.set(node, seq);
      this.routes.apply(node, add, del);
      this.lock.receive(node, clients_add, clients_add_ts ?? [], clients_del, false);
    } else if (f.retained) {
      for (const e of f.retained.entries) this.receiveRetained(e.msg, e.origin);
    } else if (f.leave) {
      this.leaving.add(node);
    } else if (f.members) {
      this.members.receive(node, f.members);
    } else if (f.takeover) {
      const { id, clientid, clean } = f.takeover;
      if (this.claiming(clientid)) {
        const waiting = this.deferred.get(clientid) ?? [];
        waiting.push(() => this.receive(link, f));
        this.deferred.set(clientid, waiting);
        return;
      }
      const held = this.lock.stamp(clientid) !== undefined;
      this.lock.yieldTo(clientid);
      const state = this.host?.takeoverBegin(clientid, clean);
      if (state) this.log.info({ clientid, peer_node: node }, 'Session takeovered to another node');
      // a second asker, racing the first, is sent on to where the session went
      const movedTo = held ? undefined : this.lock.movedTo(clientid, node);
      if (held) this.lock.handedTo(clientid, node);
      this.enqueue(node, {
        takeover_reply: { id, found: state !== undefined, state: state ? encodeState(state) : Buffer.alloc(0), moved_to: movedTo ?? '' },
      });
    } else if (f.takeover_reply) {
      const { id, found, state, moved_to } = f.takeover_reply;
      this.onTakeoverReply(node, id, found ? decodeState(state) : undefined, moved_to ?? '');
    } else if (f.takeover_end) {
      const clientid = f.takeover_end.clientid;
      const rest = this.host?.takeoverEnd(clientid) ?? [];
      this.enqueue(node, { takeover_rest: { clientid, deliveries: encodeDeliveries(rest) } });
    } else if (f.takeover_rest) {
      this.host?.takeoverRest(f.takeover_rest.clientid, decodeDeliveries(f.takeover_rest.deliveries));
    } else if (f.admin_request) {
      this.admin.onRequest(node, f.admin_request);
    } else if (f.admin_reply) {
      this.admin.onReply(node, f.admin_reply);
    }
  }

  /** A node is `running` while both streams with it are up. */
  private membership(node: string, reason: string): void {
    const up = this.outByNode.has(node) && this.inByNode.has(node);
    if (up && !this.running.has(node)) {
      this.running.add(node);
      this.stats.seen(node);
      this.leaving.delete(node);
      this.log.info({ peer_node: node, nodes: this.nodes() }, 'Cluster node running');
      this.members.seen(node, 'running', this.outByNode.get(node)?.addr);
      this.host?.nodesChanged();
    } else if (!up && this.running.has(node)) {
      this.running.delete(node);
      if (this.quitting) this.log.info({ peer_node: node, nodes: this.nodes() }, 'Cluster link closed: this node left the cluster');
      else if (this.leaving.has(node)) this.log.info({ peer_node: node, nodes: this.nodes() }, 'Cluster node stopped');
      else this.log.warn({ peer_node: node, reason, nodes: this.nodes() }, 'Cluster node down');
      this.members.seen(node, this.leaving.has(node) ? 'stopped' : 'down', undefined);
      this.host?.nodesChanged();
    }
  }

  /** `cluster leave` (membership.ts): goodbyes to every peer, then every link closed; the port stays open. */
  private async leaveAll(): Promise<void> {
    this.quitting = true;
    try {
      // frames already queued (the members frame saying we leave) go out before the goodbyes
      this.flush();
      const hadPeers = this.outByNode.size > 0;
      for (const out of [...this.outByAddr.values(), ...this.outByNode.values()]) out.leave();
      if (hadPeers) await new Promise((r) => setTimeout(r, 100));
      for (const link of [...this.inbounds]) link.close('left the cluster');
    } finally {
      this.quitting = false;
    }
  }

  /** A dial that failed in the TLS handshake: said once per address, at error level. */
  private tlsRefused(addr: string, reason: string): void {
    if (this.refusalLogged.has(addr)) return;
    this.refusalLogged.set(addr, Date.now());
    this.log.error(
      { peer: addr, reason },
      'TLS handshake with cluster peer failed: its certificate must chain to cluster.rpc.cacertfile and name the host dialled, and ours must chain to its CA',
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.admin.close();
    if (this.discoverTimer) clearInterval(this.discoverTimer);
    this.members.close();
    this.options.discovery.close();
    const hadPeers = this.outByNode.size > 0;
    for (const out of [...this.outByAddr.values(), ...this.outByNode.values()]) out.leave();
    // let the goodbyes arrive before the peers see our side of their streams close
    if (hadPeers) await new Promise((r) => setTimeout(r, 100));
    for (const link of [...this.inbounds]) link.close('shutdown');
    this.listener?.close();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 1000);
      this.server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
