/**
 * `ClusterLink` over gRPC: this file wires the parts together (docs/architecture.md has
 * the map). Each node opens one stream to each peer and sends everything for that peer
 * through it, so per-publisher order holds.
 *
 *   rpc-server.ts      the gRPC port peers dial
 *   peer-links.ts      discovery, dialling, the two streams per peer, running/down
 *   outbox.ts          frames queued per peer, written out once per event-loop turn
 *   route-sync.ts      route replication (and the client registry's claims with it)
 *   forwarder.ts       which peers a message goes to, forward frames, forward acks
 *   shared-pick.ts     which node delivers a shared group spread over nodes
 *   retained-sync.ts   retained messages copied to every node
 *   takeover.ts        moving a session between nodes
 *   frame-handlers.ts  what each frame from a peer does
 */
import type { AdminCallHandler, ClusterHost, ClusterLink, ClusterPeerStats, Message, SessionState, SharedStrategy } from '@vireo/broker';
import type { Logger } from 'pino';
import type { Discovery } from './discovery.js';
import { ClientLock } from './client-lock.js';
import { AdminRpc } from './admin-rpc.js';
import { Membership } from './membership.js';
import type { ProtocolRange } from './auth.js';
import type { RpcTls } from './rpc-tls.js';
import { PeerStats } from './peer-stats.js';
import { PeerLinks } from './peer-links.js';
import { startPeerServer, type PeerServer } from './rpc-server.js';
import { Outbox } from './outbox.js';
import { RouteSync } from './route-sync.js';
import { Forwarder } from './forwarder.js';
import { RetainedSync } from './retained-sync.js';
import { Takeover } from './takeover.js';
import { dispatchFrame, peerFrameHandlers, type FrameHandlers } from './frame-handlers.js';

/** `cluster.rpc.max_pending_bytes`'s default: 16MB unread per peer, as much as the unacknowledged QoS 1/2 forwards kept for it (forward-acks.ts). */
export const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;

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
  /** The largest frame taken from a peer, before and after the handshake (`cluster.rpc.max_frame_size`); unlimited when absent. */
  maxFrameBytes?: number;
  /** `cluster.rpc.max_pending_bytes`: unread bytes per peer stream past which forwards wait (QoS 1/2) or drop (QoS 0); 0 = no bound. */
  maxPendingBytes?: number;
  /** The peer protocol versions this node accepts (`cluster.rpc.protocol_min`/`protocol_max`); the build's when absent. */
  protocols?: ProtocolRange;
}

/** Starts the gRPC port and discovery; the broker then `attach`es. */
export async function startCluster(options: ClusterOptions): Promise<GrpcCluster> {
  const cluster = new GrpcCluster(options);
  await cluster.listen();
  return cluster;
}

export class GrpcCluster implements ClusterLink {
  readonly node: string;
  /** Who is in the cluster, who was removed, autoclean, readiness (membership.ts). */
  readonly members: Membership;
  private host: ClusterHost | undefined;
  private readonly log: Logger;
  private server: PeerServer | undefined;
  private readonly links: PeerLinks;
  private readonly outbox = new Outbox(() => this.flush());
  /** Set while flushing before goodbyes: no forward is held back for a congested peer. */
  private flushAll = false;
  /** Per-peer counters and round trips (peer-stats.ts). */
  private readonly stats = new PeerStats();
  /** The client registry and the per-clientid claims (client-lock.ts). */
  private readonly lock: ClientLock;
  private readonly routes: RouteSync;
  private readonly forwarder: Forwarder;
  private readonly retained: RetainedSync;
  private readonly takeover: Takeover;
  private readonly admin: AdminRpc;
  private readonly handlers: FrameHandlers;
  private closed = false;

  constructor(private readonly options: ClusterOptions) {
    this.node = options.node;
    this.log = options.logger;
    const send = (node: string, frame: Parameters<Outbox['push']>[1]): void => this.outbox.push(node, frame);
    const linked = (node: string): boolean => this.links.out(node) !== undefined;
    const host = (): ClusterHost | undefined => this.host;
    this.members = new Membership(
      {
        self: this.node,
        strategy: options.discovery.strategy,
        advertise: () => this.links.advertise,
        rpcPort: () => this.server?.port ?? 0,
        running: () => this.links.running,
        nodeAt: (addr) => this.links.nodeAt(addr),
        dial: (addr, join) => this.links.dial(addr, join),
        send,
        unlearn: (addr) => this.links.unlearn(addr),
        leaveAll: () => this.links.leaveAll(),
      },
      { file: options.membershipFile, autocleanMs: options.autocleanMs ?? 24 * 3_600_000, logger: this.log },
    );
    this.links = new PeerLinks(
      {
        node: this.node,
        cookie: options.cookie,
        discovery: options.discovery,
        log: this.log,
        heartbeatMs: options.heartbeatMs ?? 1000,
        timeoutMs: options.timeoutMs ?? 5000,
        retryMs: options.retryMs ?? 2000,
        tls: options.tls,
        members: this.members,
        stats: this.stats,
        maxFrameBytes: options.maxFrameBytes,
        maxPendingBytes: options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES,
        protocols: options.protocols,
      },
      {
        outUp: (node, link) => {
          // a (re)connected peer gets everything first: routes, then retained messages,
          // then the QoS 1/2 forwards it had not acknowledged, before anything new
          link.send(this.routes.snapshot(this.host?.localClients() ?? []));
          const retained = this.retained.snapshot();
          if (retained) link.send(retained);
          this.forwarder.linkUp(node, link);
          this.takeover.linkUp(node);
          link.onDrain = () => {
            this.forwarder.release(node, link);
            this.outbox.schedule();
          };
          this.outbox.schedule();
        },
        outDown: (node, reason) => {
          this.forwarder.linkDown(node, this.outbox.take(node)?.frames ?? []);
          this.admin.nodeDown(node, reason);
        },
        inUp: (node) => this.routes.peerUp(node),
        inDown: (node) => this.routes.peerDown(node),
        frame: (link, f) => dispatchFrame(this.handlers, link, f),
        nodesChanged: () => this.host?.nodesChanged(),
        flush: () => {
          // before goodbyes (stop, leave): what was held for a slow peer is written too, so it
          // may still read it before the goodbye timeout; kept in memory it would die with us
          this.flushAll = true;
          try {
            this.outbox.flushNow();
          } finally {
            this.flushAll = false;
          }
        },
      },
    );
    this.lock = new ClientLock({
      node: this.node,
      autoheal: options.autoheal ?? true,
      logger: this.log,
      // a clean-start takeover by nobody: the connection gets 0x8E, the session ends (`discarded`)
      discardLocal: (clientId) => void this.host?.takeoverBegin(clientId, true),
    });
    this.routes = new RouteSync({ log: this.log, lock: this.lock, schedule: () => this.outbox.schedule() });
    this.forwarder = new Forwarder({
      node: this.node,
      log: this.log,
      strategy: options.sharedStrategy,
      routes: this.routes,
      outbox: this.outbox,
      stats: this.stats,
      linked,
      linkedCount: () => this.links.outs().size,
      host,
    });
    this.retained = new RetainedSync({ node: this.node, outbox: this.outbox, linkedNodes: () => this.links.outs().keys(), host });
    this.takeover = new Takeover({
      node: this.node,
      log: this.log,
      lock: this.lock,
      timeoutMs: options.takeoverTimeoutMs ?? 5000,
      send,
      linked,
      host,
      protocolOf: (node) => this.links.protocolOf(node),
      peers: () => this.nodes().filter((n) => n !== this.node),
    });
    this.admin = new AdminRpc({
      self: this.node,
      logger: this.log,
      timeoutMs: options.callTimeoutMs ?? 5000,
      send,
      isUp: (node) => this.links.running.has(node),
    });
    this.handlers = peerFrameHandlers({
      forwarder: this.forwarder,
      routes: this.routes,
      retained: this.retained,
      takeover: this.takeover,
      members: this.members,
      admin: this.admin,
      leaving: (node) => this.links.leaving(node),
    });
  }

  async listen(): Promise<void> {
    const { host } = this.options.bind;
    this.server = await startPeerServer(this.options.bind, this.options.tls, this.log, (call) => this.links.accept(call), this.options.maxFrameBytes);
    const port = this.server.port;
    const anyHost = host === '0.0.0.0' || host === '::';
    const advHost = anyHost ? this.node.slice(this.node.indexOf('@') + 1) : host;
    this.links.advertise = this.options.advertise ?? (advHost.includes(':') ? `[${advHost}]:${port}` : `${advHost}:${port}`);
    this.log.info(
      {
        bind: host.includes(':') ? `[${host}]:${this.options.bind.port}` : `${host}:${this.options.bind.port}`,
        port,
        advertise: this.links.advertise,
        discovery: this.options.discovery.strategy,
        tls: this.options.tls !== undefined,
      },
      'Cluster RPC listening',
    );
  }

  get rpcPort(): number {
    return this.server?.port ?? 0;
  }

  attach(host: ClusterHost): void {
    this.host = host;
    for (const r of host.localRoutes()) this.addRoute(r.filter, r.group);
    this.links.start();
  }

  nodes(): string[] {
    return [this.node, ...this.links.running].sort();
  }

  get sharedElsewhere(): ReadonlySet<string> | undefined {
    return this.forwarder.sharedElsewhere;
  }

  peerStats(): ClusterPeerStats {
    const outs = this.links.outs();
    const v = this.stats.view(this.links.running, this.routes.size, (node) => outs.get(node)?.pendingBytes ?? 0);
    // stopped as `cluster status` says: the view's nodes not running, until autoclean or force-leave
    return {
      ...v,
      stoppedNodes: this.members
        .status()
        .members.filter((m) => m.status !== 'running')
        .map((m) => m.node),
    };
  }

  serveAdmin(handler: AdminCallHandler): void {
    this.admin.serve(handler);
  }

  callNode(node: string, op: string, args: unknown): Promise<unknown> {
    return this.admin.call(node, op, args);
  }

  addRoute(filter: string, group: string | undefined): void {
    this.routes.add(filter, group);
  }

  deleteRoute(filter: string, group: string | undefined): void {
    this.routes.delete(filter, group);
  }

  registerClient(clientId: string): void {
    this.lock.claim(clientId);
    this.outbox.schedule();
  }

  unregisterClient(clientId: string): void {
    this.lock.release(clientId);
    this.outbox.schedule();
  }

  claimClient(clientId: string, cleanStart: boolean): Promise<SessionState | undefined> | undefined {
    return this.takeover.claim(clientId, cleanStart);
  }

  pushSession(clientId: string, node: string): Promise<boolean> {
    return this.takeover.push(clientId, node);
  }

  sessionCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const node of this.nodes()) if (node !== this.node) out[node] = this.lock.registry.count(node);
    return out;
  }

  forward(msg: Message, retained?: boolean): number {
    if (msg.retain && retained !== false) this.retained.replicate(msg);
    return this.forwarder.forward(msg);
  }

  /** Writes out what is queued: the route delta to every peer, then each peer's frames, then forward acks. */
  private flush(): void {
    const outs = this.links.outs();
    const delta = this.routes.takeDelta();
    if (delta) for (const out of outs.values()) out.send(delta);
    if (this.flushAll) for (const [node, out] of outs) this.forwarder.release(node, out, true);
    for (const [node, q] of this.outbox.takeAll()) {
      const out = outs.get(node);
      if (!out) continue;
      // forwards held back while the peer was not reading go first, if it reads again
      this.forwarder.release(node, out, this.flushAll);
      for (const f of q.frames) this.forwarder.write(node, f, out, this.flushAll);
      if (q.msgs > 0) this.stats.forwarded(node, q.msgs, q.bytes);
    }
    this.forwarder.sendAcks((node) => outs.get(node));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.admin.close();
    await this.links.close();
    this.takeover.close();
    await this.server?.close();
  }
}
