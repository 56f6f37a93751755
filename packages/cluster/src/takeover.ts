/**
 * Session takeover between nodes, in two phases. Phase 1: the new node asks the node that
 * holds the clientid (`takeover`); that node closes the connection, keeps a stand-in that
 * queues what still arrives, and answers with the session (`takeover_reply`). Phase 2: once
 * the new node has installed the session and its routes, it asks for the rest
 * (`takeover_end`) and gets what the stand-in queued (`takeover_rest`).
 */
import type { ClusterHost, SessionState } from '@vireo/broker';
import type { Logger } from 'pino';
import type { ClientLock } from './client-lock.js';
import { RECORD_ENCODING_PROTOCOL, decodeDeliveries, decodeState, encodeDeliveries, encodeState } from './session-codec.js';
import type { Frame } from './wire.js';
import { TakeoverBarrier, type BarrierBody, type BarrierDoneBody } from './takeover-barrier.js';
import { REST_ACK_PROTOCOL, RestDelivery, type TakeoverRestAckBody } from './takeover-rest.js';

/** How long the old node waits for the other nodes' markers before it ends a stand-in anyway. */
const BARRIER_MS = 2000;

export type TakeoverBody = NonNullable<Frame['takeover']>;
export type TakeoverReplyBody = NonNullable<Frame['takeover_reply']>;
export type TakeoverEndBody = NonNullable<Frame['takeover_end']>;
export type TakeoverRestBody = NonNullable<Frame['takeover_rest']>;
export type SessionPushBody = NonNullable<Frame['session_push']>;
export type SessionPushRefusedBody = NonNullable<Frame['session_push_refused']>;

export interface TakeoverDeps {
  readonly node: string;
  readonly log: Logger;
  readonly lock: ClientLock;
  /** How long a CONNECT waits for the old node to hand over a session. */
  readonly timeoutMs: number;
  /** Queues a frame for `node`. */
  send(node: string, frame: Frame): void;
  /** Whether a link to `node` is up. */
  linked(node: string): boolean;
  host(): ClusterHost | undefined;
  /** Running peers (this node excluded), for the stand-in's barrier (takeover-barrier.ts). */
  peers?(): string[];
  /** The protocol version of the link to `node` (auth.ts): a session sent to a protocol 2 node is encoded as that release reads it. */
  protocolOf?(node: string): number | undefined;
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

interface PendingPush {
  node: string;
  state: SessionState;
  startedAt: number;
  timer: NodeJS.Timeout;
  resolve(ok: boolean): void;
}

export class Takeover {
  private readonly claims = new Map<number, PendingClaim>();
  private claimSeq = 0;
  /** Sessions this node is pushing away (evacuation), by clientid. */
  private readonly pushes = new Map<string, PendingPush>();
  /** Takeover requests for a clientid this node is itself taking over wait until it has the session. */
  private readonly deferred = new Map<string, (() => void)[]>();

  private readonly barrier: TakeoverBarrier;
  /** Stand-in queues kept until the new node acknowledges them (protocol 4). */
  readonly rests: RestDelivery;

  constructor(private readonly deps: TakeoverDeps) {
    this.rests = new RestDelivery({ log: deps.log, send: (n, f) => deps.send(n, f), linked: (n) => deps.linked(n), protocolOf: (n) => deps.protocolOf?.(n) });
    // nodes of the release before protocol 3 know no barrier: they are neither asked nor waited for
    const peers = () => (deps.peers?.() ?? []).filter((n) => this.current(n));
    this.barrier = new TakeoverBarrier({ node: deps.node, send: (n, f) => deps.send(n, f), peers, timeoutMs: BARRIER_MS });
  }

  /** See ClusterLink.claimClient. */
  claim(clientId: string, cleanStart: boolean): Promise<SessionState | undefined> | undefined {
    const owner = this.deps.lock.ownerElsewhere(clientId);
    if (owner === undefined || !this.deps.linked(owner)) return undefined;
    const id = ++this.claimSeq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.claims.delete(id);
        this.deps.log.warn({ clientid: clientId, peer_node: owner }, 'Takeover from another node timed out, starting a new session');
        resolve(undefined);
        this.runDeferred(clientId);
      }, this.deps.timeoutMs);
      this.claims.set(id, { node: owner, clientId, clean: cleanStart, startedAt: Date.now(), timer, resolve });
      this.deps.send(owner, { takeover: { id, clientid: clientId, clean: cleanStart } });
    });
  }

  /** Phase 1 on the old node: `node` asks for the session of `clientid`. */
  onRequest(node: string, body: TakeoverBody): void {
    const { id, clientid, clean } = body;
    if (this.claiming(clientid)) {
      const waiting = this.deferred.get(clientid) ?? [];
      waiting.push(() => this.onRequest(node, body));
      this.deferred.set(clientid, waiting);
      return;
    }
    const lock = this.deps.lock;
    const held = lock.stamp(clientid) !== undefined;
    lock.yieldTo(clientid);
    const state = this.deps.host()?.takeoverBegin(clientid, clean);
    if (state) this.deps.log.info({ clientid, peer_node: node }, 'Session takeovered to another node');
    // a second asker, racing the first, is sent on to where the session went
    const movedTo = held ? undefined : lock.movedTo(clientid, node);
    if (held) lock.handedTo(clientid, node);
    this.deps.send(node, {
      takeover_reply: {
        id,
        found: state !== undefined,
        state: state ? encodeState(state, this.deps.protocolOf?.(node), this.deps.node) : Buffer.alloc(0),
        moved_to: movedTo ?? '',
      },
    });
  }

  /** The old node's answer to phase 1. */
  onReply(node: string, body: TakeoverReplyBody): void {
    const { id, found, state: bytes } = body;
    const movedTo = body.moved_to ?? '';
    const claim = this.claims.get(id);
    if (!claim || claim.node !== node) return;
    const state = found ? decodeState(bytes) : undefined;
    // another CONNECT got the session a moment before us: take it over from where it went
    if (!state && movedTo !== '' && movedTo !== this.deps.node && (claim.hops ?? 0) < 2 && this.deps.linked(movedTo)) {
      claim.node = movedTo;
      claim.hops = (claim.hops ?? 0) + 1;
      this.deps.send(movedTo, { takeover: { id, clientid: claim.clientId, clean: claim.clean } });
      return;
    }
    this.claims.delete(id);
    clearTimeout(claim.timer);
    this.deps.log.info(
      { clientid: claim.clientId, peer_node: node, clean_start: claim.clean, moved: state !== undefined, ms: Date.now() - claim.startedAt },
      state ? 'Session taken over from another node' : 'Session on another node ended',
    );
    // phase 2 goes out in the next flush, after the route changes the new session makes now
    if (state) this.askEnd(node, claim.clientId);
    claim.resolve(state);
    this.runDeferred(claim.clientId);
  }

  /**
   * Evacuation, on the leaving node: pushes the session of `clientId` to `node` (phase 1
   * driven by this node); resolves true once `node` asked for the stand-in's queue (phase 2),
   * false when it refused or did not answer in time (the session is back here). On a
   * protocol 4 link "done" is the receiver's acknowledgement of the stand-in's queue
   * (takeover-rest.ts), so a link that drops in between loses nothing.
   */
  push(clientId: string, node: string): Promise<boolean> {
    const host = this.deps.host();
    if (!host || !this.deps.linked(node) || this.pushes.has(clientId) || this.claiming(clientId)) return Promise.resolve(false);
    // a node of the release before protocol 3 knows no session_push
    if (!this.current(node)) return Promise.resolve(false);
    const state = host.pushBegin(clientId);
    if (!state) return Promise.resolve(false);
    // as in a takeover: the receiver's claim will be newer, and a CONNECT racing the push is sent on there
    this.deps.lock.yieldTo(clientId);
    this.deps.lock.handedTo(clientId, node);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.pushFailed(clientId, 'no answer in time'), this.deps.timeoutMs);
      this.pushes.set(clientId, { node, state, startedAt: Date.now(), timer, resolve });
      this.deps.send(node, { session_push: { clientid: clientId, state: encodeState(state, this.deps.protocolOf?.(node), this.deps.node) } });
    });
  }

  /** Evacuation, on the receiving node: installs the session, then asks for the stand-in's queue. */
  onPush(node: string, body: SessionPushBody): void {
    const clientid = body.clientid;
    let state: SessionState;
    try {
      state = decodeState(body.state);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.deps.log.error({ clientid, peer_node: node, reason }, 'Session from an evacuating node refused');
      this.deps.send(node, { session_push_refused: { clientid, reason } });
      return;
    }
    this.deps.host()?.pushInstall(state);
    // phase 2 goes out in the next flush, after the routes the session brought
    this.askEnd(node, clientid);
  }

  onPushRefused(node: string, body: SessionPushRefusedBody): void {
    if (this.pushes.get(body.clientid)?.node === node) this.pushFailed(body.clientid, body.reason);
  }

  private pushFailed(clientId: string, reason: string): void {
    const p = this.pushes.get(clientId);
    if (!p) return;
    clearTimeout(p.timer);
    this.pushes.delete(clientId);
    this.deps.log.warn({ clientid: clientId, peer_node: p.node, reason }, 'Session push to another node failed, the session stays here');
    this.deps.lock.claim(clientId);
    this.deps.host()?.pushFailed(p.state);
    p.resolve(false);
  }

  /** Phase 2 on the old node: the stand-in ends, what it queued goes to `node`. */
  onEnd(node: string, body: TakeoverEndBody): void {
    // a new node of the release before asked no one for a marker
    if (!this.current(node)) return this.end(node, body.clientid);
    this.barrier.await(node, body.clientid, () => this.end(node, body.clientid));
  }

  /** Whether the link to `node` speaks protocol 3 or later (takeover barrier, session push). */
  private current(node: string): boolean {
    return (this.deps.protocolOf?.(node) ?? RECORD_ENCODING_PROTOCOL) >= RECORD_ENCODING_PROTOCOL;
  }

  /** Phase 2 on the new node: the rest, please, once every node has flushed towards the old one. */
  private askEnd(oldNode: string, clientid: string): void {
    this.deps.send(oldNode, { takeover_end: { clientid } });
    this.barrier.request(oldNode, clientid);
  }

  onBarrier(body: BarrierBody): void {
    this.barrier.onBarrier(body);
  }

  onBarrierDone(node: string, body: BarrierDoneBody): void {
    this.barrier.onDone(node, body);
  }

  private end(node: string, clientid: string): void {
    const rest = this.deps.host()?.takeoverEnd(clientid) ?? [];
    const protocol = this.deps.protocolOf?.(node);
    const bytes = encodeDeliveries(rest, protocol, this.deps.node);
    const push = this.pushes.get(clientid);
    const mine = push !== undefined && push.node === node;
    if (mine) {
      // settled by the acknowledgement now, not by a timeout that would bring the session back
      clearTimeout(push.timer);
      this.pushes.delete(clientid);
    }
    const done = (acked: boolean): void => {
      if (!mine) return;
      const fields = { clientid, peer_node: node, queued: rest.length, ms: Date.now() - push.startedAt };
      if (acked) this.deps.log.info(fields, 'Session pushed to another node');
      else this.deps.log.warn(fields, 'Session pushed to another node, its takeover queue unacknowledged');
      push.resolve(true);
    };
    // a node of the release before gets it once, unnumbered, and counts as done when queued
    if ((protocol ?? REST_ACK_PROTOCOL) < REST_ACK_PROTOCOL) {
      this.deps.send(node, { takeover_rest: { clientid, deliveries: bytes } });
      return done(true);
    }
    this.rests.send(node, clientid, bytes, rest.length, done);
  }

  /** Phase 2 on the new node (an earlier copy of a numbered one sent again is skipped). */
  onRest(body: TakeoverRestBody, node?: string): void {
    if (node !== undefined && body.id && !this.rests.accept(node, body.clientid, body.id)) return;
    this.deps.host()?.takeoverRest(body.clientid, decodeDeliveries(body.deliveries));
  }

  onRestAck(node: string, body: TakeoverRestAckBody): void {
    this.rests.onAck(node, body);
  }

  /** Our link to `node` is up (again): stand-in queues it had not acknowledged go again. */
  linkUp(node: string): void {
    this.rests.linkUp(node);
  }

  close(): void {
    this.rests.close();
  }

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
}
