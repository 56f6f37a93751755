/**
 * The links to the other nodes: discovery rounds and dialling, the two streams per peer
 * (ours to it, outbound.ts; its to us, inbound.ts, which do the cookie handshake and
 * heartbeats), and a peer's state from them: `running` while both streams are up, `down`
 * when one drops, `stopped` when it said goodbye first. What flows over the links is the
 * other modules' business; they hear of links through `PeerLinkEvents`.
 */
import type { Logger } from 'pino';
import type { ProtocolRange } from './auth.js';
import type { Discovery } from './discovery.js';
import { Inbound, type InboundEvents } from './inbound.js';
import { REMOVED_REASON, type Membership } from './membership.js';
import { Outbound, type OutboundEvents } from './outbound.js';
import type { PeerStats } from './peer-stats.js';
import { channelCredentials, isTlsFailure, type RpcTls } from './rpc-tls.js';
import type { Frame } from './wire.js';
import type { RawServerStream } from './seal.js';

export interface PeerLinksOptions {
  node: string;
  cookie: string;
  discovery: Discovery;
  log: Logger;
  heartbeatMs: number;
  /** Silence after which a peer is `down`. */
  timeoutMs: number;
  /** How often discovery is asked again and missing peers dialled. */
  retryMs: number;
  tls?: RpcTls;
  members: Membership;
  stats: PeerStats;
  /** The largest frame taken from a peer (`cluster.rpc.max_frame_size`). */
  maxFrameBytes?: number;
  /** `cluster.rpc.max_pending_bytes` (outbound.ts). */
  maxPendingBytes?: number;
  /** Streams from one address that may be in their handshake at once; further ones are cut (default 8). */
  maxPendingPerAddress?: number;
  /** The protocol versions this node accepts (`cluster.rpc.protocol_min`/`protocol_max`); the build's when absent. */
  protocols?: ProtocolRange;
}

export interface PeerLinkEvents {
  /** Our stream to `node` finished its handshake: the peer gets everything first. */
  outUp(node: string, link: Outbound): void;
  /** Our stream to `node` (after `outUp`) closed. */
  outDown(node: string, reason: string): void;
  /** `node`'s stream to us finished its handshake. */
  inUp(node: string): void;
  /** `node`'s stream to us closed. */
  inDown(node: string): void;
  /** A frame from `node`'s stream to us, after the handshake. */
  frame(link: Inbound, f: Frame): void;
  /** A node became running, or stopped running. */
  nodesChanged(): void;
  /** Writes out what is queued (before goodbyes). */
  flush(): void;
}

export class PeerLinks {
  /** The address peers dial for this node (set once the port listens). */
  advertise = '';
  private readonly outByAddr = new Map<string, Outbound>();
  private readonly outByNode = new Map<string, Outbound>();
  private readonly inByNode = new Map<string, Inbound>();
  private readonly inbounds = new Set<Inbound>();
  /** Peer addresses learned from peers that dialled us (we dial back). */
  private readonly learned = new Set<string>();
  /** Address → the node it turned out to be (to skip duplicates and ourselves). */
  private readonly aliases = new Map<string, string>();
  private readonly refusalLogged = new Map<string, number>();
  private readonly runningNodes = new Set<string>();
  /** Peers that said they are stopping: reported `stopped` rather than `down`. */
  private readonly leavingNodes = new Set<string>();
  /** Set while `cluster leave` closes the links: they close because of us. */
  private quitting = false;
  private readonly credentials;
  private discoverTimer: NodeJS.Timeout | undefined;
  private discovering = false;
  private closed = false;

  constructor(
    private readonly o: PeerLinksOptions,
    private readonly events: PeerLinkEvents,
  ) {
    this.credentials = channelCredentials(o.tls);
  }

  /** Peers with both streams up. */
  get running(): ReadonlySet<string> {
    return this.runningNodes;
  }

  /** Our stream to `node`, when its handshake is done. */
  out(node: string): Outbound | undefined {
    return this.outByNode.get(node);
  }

  /** The protocol version agreed with `node` on our stream to it (what we send it is encoded for), if up. */
  protocolOf(node: string): number | undefined {
    return this.outByNode.get(node)?.version;
  }

  /** Every peer our stream to is up, with that stream. */
  outs(): ReadonlyMap<string, Outbound> {
    return this.outByNode;
  }

  /** The node an address turned out to be, once dialled. */
  nodeAt(addr: string): string | undefined {
    return this.aliases.get(addr);
  }

  unlearn(addr: string): void {
    this.learned.delete(addr);
  }

  /** `node` said it is stopping. */
  leaving(node: string): void {
    this.leavingNodes.add(node);
  }

  /** Starts discovery (its own watch, if any, and a round every `retryMs`). */
  start(): void {
    const d = this.o.discovery;
    if (d.start) {
      d.start({ node: this.o.node, addr: this.advertise }, () => void this.discover()).then(
        () => void this.discover(),
        (err: unknown) => this.o.log.warn({ discovery: d.strategy, err: String(err) }, 'Cluster discovery failed to start, retrying'),
      );
    }
    void this.discover();
    this.discoverTimer = setInterval(() => void this.discover(), this.o.retryMs);
    this.discoverTimer.unref();
  }

  private async discover(): Promise<void> {
    if (this.discovering || this.closed) return;
    this.discovering = true;
    try {
      let found: string[] = [];
      try {
        found = await this.o.discovery.candidates();
      } catch (err) {
        this.o.log.warn({ discovery: this.o.discovery.strategy, err: String(err) }, 'Cluster discovery failed, retrying');
      }
      this.o.members.discovered(found);
      for (const addr of new Set([...found, ...this.learned, ...this.o.members.extraCandidates()])) this.dial(addr);
    } finally {
      this.discovering = false;
    }
  }

  /** Opens our stream to `addr` unless there is one (or it is us, or membership says no). */
  dial(addr: string, join = false): void {
    if (this.closed || addr === this.advertise || this.outByAddr.has(addr) || this.o.members.blocked(addr, join)) return;
    const known = this.aliases.get(addr);
    if (known === this.o.node || (known !== undefined && this.outByNode.has(known))) return;
    const link = new Outbound(
      addr,
      {
        self: this.o.node,
        advertise: this.advertise,
        cookie: this.o.cookie,
        heartbeatMs: this.o.heartbeatMs,
        timeoutMs: this.o.timeoutMs,
        join,
        credentials: this.credentials,
        maxFrameBytes: this.o.maxFrameBytes,
        maxPendingBytes: this.o.maxPendingBytes,
        protocols: this.o.protocols,
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
      this.o.members.dialUp(link.addr);
      if (node === this.o.node) return link.close('self');
      if (this.outByNode.has(node)) return link.close('duplicate');
      this.outByNode.set(node, link);
      this.events.outUp(node, link);
      this.o.members.greet(node);
      this.changed(node, 'connected');
    },
    down: (link, reason) => {
      if (this.outByAddr.get(link.addr) === link) this.outByAddr.delete(link.addr);
      const node = link.node;
      if (node === undefined || this.outByNode.get(node) !== link) {
        if (node === undefined) this.o.members.dialFailed(link.addr, reason);
        if (node === undefined && this.o.tls && isTlsFailure(reason)) this.tlsRefused(link.addr, reason);
        else this.o.log.debug({ peer: link.addr, reason }, 'Cluster peer not reachable');
        return;
      }
      this.outByNode.delete(node);
      this.events.outDown(node, reason);
      this.changed(node, reason);
      // dial again soon rather than at the next scheduled round
      if (!this.closed) setTimeout(() => this.dial(link.addr), 200).unref();
    },
    rtt: (link, ms) => {
      if (link.node !== undefined) this.o.stats.rtt(link.node, ms);
    },
    refused: (link, reason) => {
      this.o.members.dialRefused(link.addr, reason);
      if (this.refusalLogged.has(link.addr)) return;
      this.refusalLogged.set(link.addr, Date.now());
      this.o.log.error({ peer: link.addr, peer_node: link.node, reason }, `Refused by cluster peer: ${reason}${hint(reason, 'node.cookie must be the same on every node')}`);
    },
  };

  /** Streams in their handshake, by peer IP (the cap on unauthenticated streams). */
  private readonly pending = new Map<string, number>();
  private readonly capLogged = new Map<string, number>();

  /** A stream a peer opened to our gRPC port. */
  accept(call: RawServerStream): void {
    if (this.closed) {
      call.end();
      return;
    }
    const peer = call.getPeer();
    const ip = peer.slice(0, peer.lastIndexOf(':'));
    const open = this.pending.get(ip) ?? 0;
    if (open >= (this.o.maxPendingPerAddress ?? 8)) {
      if (Date.now() - (this.capLogged.get(ip) ?? 0) > 60_000) {
        this.capLogged.set(ip, Date.now());
        this.o.log.warn({ peer, pending: open }, 'Refused cluster stream: too many unauthenticated streams from this address');
      }
      call.end();
      return;
    }
    this.pending.set(ip, open + 1);
    let counted = true;
    const done = () => {
      if (!counted) return;
      counted = false;
      const n = (this.pending.get(ip) ?? 1) - 1;
      if (n <= 0) this.pending.delete(ip);
      else this.pending.set(ip, n);
    };
    const link = new Inbound(
      call,
      {
        self: this.o.node,
        cookie: this.o.cookie,
        heartbeatMs: this.o.heartbeatMs,
        timeoutMs: this.o.timeoutMs,
        admit: (node, join, addr) => this.o.members.admit(node, join, addr),
        protocols: this.o.protocols,
      },
      { ...this.inboundEvents, up: (l) => (done(), this.inboundEvents.up(l)) },
    );
    link.onEnd = done;
    this.inbounds.add(link);
  }

  private readonly inboundEvents: InboundEvents = {
    up: (link) => {
      const node = link.node;
      if (node === this.o.node) return link.close('self');
      this.o.log.info({ peer: link.peer, peer_node: node, addr: link.addr, protocol: link.version }, 'Cluster peer admitted');
      this.inByNode.get(node)?.close('replaced by a new connection');
      this.inByNode.set(node, link);
      this.events.inUp(node);
      if (link.addr && !this.learned.has(link.addr)) this.learned.add(link.addr);
      // dial back at once: the peer's routes arrive here, ours must reach it
      if (link.addr && !this.outByNode.has(node)) this.dial(link.addr);
      this.changed(node, 'connected');
    },
    frame: (link, f) => this.events.frame(link, f),
    down: (link, reason) => {
      this.inbounds.delete(link);
      const node = link.node;
      if (this.inByNode.get(node) !== link) return;
      this.inByNode.delete(node);
      this.events.inDown(node);
      this.changed(node, reason);
    },
    refused: (link, node, reason) => {
      this.inbounds.delete(link);
      // once a minute per name and reason: a refused peer dials again every few seconds
      const key = `in:${node}:${reason}`;
      if (Date.now() - (this.refusalLogged.get(key) ?? 0) < 60_000) return;
      if (this.refusalLogged.size > 10_000) this.refusalLogged.clear();
      this.refusalLogged.set(key, Date.now());
      this.o.log.error(
        { peer: link.peer, peer_node: node, reason },
        reason === REMOVED_REASON
          ? `Refused cluster peer ${node}: it was removed from the cluster`
          : `Refused cluster peer: ${reason}${hint(reason, 'it has a different node.cookie')}`,
      );
    },
  };

  /** A node is `running` while both streams with it are up. */
  private changed(node: string, reason: string): void {
    const up = this.outByNode.has(node) && this.inByNode.has(node);
    const nodes = (): string[] => [this.o.node, ...this.runningNodes].sort();
    if (up && !this.runningNodes.has(node)) {
      this.runningNodes.add(node);
      this.o.stats.seen(node);
      this.leavingNodes.delete(node);
      this.o.log.info({ peer_node: node, nodes: nodes() }, 'Cluster node running');
      this.o.members.seen(node, 'running', this.outByNode.get(node)?.addr);
      this.events.nodesChanged();
    } else if (!up && this.runningNodes.has(node)) {
      this.runningNodes.delete(node);
      if (this.quitting) this.o.log.info({ peer_node: node, nodes: nodes() }, 'Cluster link closed: this node left the cluster');
      else if (this.leavingNodes.has(node)) this.o.log.info({ peer_node: node, nodes: nodes() }, 'Cluster node stopped');
      else this.o.log.warn({ peer_node: node, reason, nodes: nodes() }, 'Cluster node down');
      this.o.members.seen(node, this.leavingNodes.has(node) ? 'stopped' : 'down', undefined);
      this.events.nodesChanged();
    }
  }

  /** `cluster leave` (membership.ts): goodbyes to every peer, then every link closed; the port stays open. */
  async leaveAll(): Promise<void> {
    this.quitting = true;
    try {
      // frames already queued (the members frame saying we leave) go out before the goodbyes
      this.events.flush();
      await this.goodbyes('left the cluster');
    } finally {
      this.quitting = false;
    }
  }

  /** Stops discovery and closes every link, saying goodbye first. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.discoverTimer) clearInterval(this.discoverTimer);
    this.o.members.close();
    this.o.discovery.close();
    // frames still queued go out before the goodbyes: a link that goes down drops what it had
    // not written, and at a stop after an evacuation that is the last pushed sessions' queues
    this.events.flush();
    await this.goodbyes('shutdown');
  }

  private async goodbyes(reason: string): Promise<void> {
    const outs = [...this.outByAddr.values(), ...this.outByNode.values()];
    for (const out of outs) out.leave();
    // the peers read everything up to the goodbye before they close their side of our streams:
    // wait for that (bounded, for a peer that hangs) before closing theirs and, often, exiting
    if (outs.length > 0) await settled(Promise.all(outs.map((o) => o.finished)), GOODBYE_MS);
    for (const link of [...this.inbounds]) link.close(reason);
  }

  /** A dial that failed in the TLS handshake: said once per address, at error level. */
  private tlsRefused(addr: string, reason: string): void {
    if (this.refusalLogged.has(addr)) return;
    this.refusalLogged.set(addr, Date.now());
    this.o.log.error(
      { peer: addr, reason },
      'TLS handshake with cluster peer failed: its certificate must chain to cluster.rpc.cacertfile and name the host dialled, and ours must chain to its CA',
    );
  }
}

/** What to check, for the refusals an operator can fix. */
function hint(reason: string, cookie: string): string {
  if (reason === 'cookie mismatch') return ` (${cookie}, or a relay is in the middle)`;
  if (reason.startsWith('protocol version')) return ' (every node of a cluster must speak a common protocol version)';
  if (reason.includes('MAC') || reason.includes('sequence') || reason.includes('unsealed')) return ' (a relay or a stranger in the middle of an authenticated stream)';
  return '';
}

/** How long a stopping node waits for its peers to read its goodbyes. */
const GOODBYE_MS = 2000;

/** Resolves when `p` settles or after `ms`, whichever comes first (the timer does not outlive it). */
function settled(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void p.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
