import type { ClusterLink } from '../cluster.js';
import type { SessionPersister } from '../persistence/session-writer.js';
import type { Dispatcher } from '../routing/dispatch.js';
import type { Routes } from '../routing/routes.js';
import { Session } from '../session/session.js';
import type { Delivery, SessionState } from '../session/types.js';
import { Copies } from './copies.js';
import { NEVER_EXPIRES, type ConnectionManager } from './manager.js';
import type { ClientRegistry } from './registry.js';

/** How long a stand-in waits for takeover phase 2 before it ends anyway (the new node died). */
const STAND_IN_MS = 15_000;
/** How long a moved session holds back what is routed to it, waiting for the stand-in's queue. */
const HOLD_MS = STAND_IN_MS + 5_000;
/**
 * After the stand-in's queue, how long copies of its messages may still come the direct way
 * (sent to both nodes, the direct one slower): the time a forward takes, with a wide margin.
 */
const COPIES_MS = 5_000;

/**
 * Takeover across nodes, in two phases the cluster drives (docs/clustering.md): the old node
 * hands the session over and keeps a stand-in that holds the routes and queues what still
 * arrives; phase 2 ends the stand-in and sends its queue to the new node.
 */
export class RemoteTakeover {
  /** Stand-ins for sessions moving to another node: they keep the routes until phase 2. */
  private readonly standIns = new Map<string, NodeJS.Timeout>();
  /** Sessions moved here whose stand-in queue has not come yet (see Session.heldBack). */
  private readonly arriving = new Map<string, { timer: NodeJS.Timeout; pushed: boolean; came: SessionState }>();

  constructor(
    private readonly cm: ConnectionManager,
    private readonly registry: ClientRegistry,
    private readonly routes: Routes,
    private readonly persister: SessionPersister,
    private readonly dispatcher: Dispatcher,
    private readonly cluster: ClusterLink,
  ) {}

  isStandIn(clientId: string): boolean {
    return this.standIns.has(clientId);
  }

  /** Phase 1, on the old node: closes the connection and hands the session over. */
  begin(clientId: string, cleanStart: boolean): SessionState | undefined {
    this.cm.settleWill(clientId, cleanStart);
    const ch = this.registry.channels.get(clientId);
    const session = this.registry.sessions.get(clientId);
    if (ch) this.cm.displace(ch, cleanStart, undefined);
    if (!session || this.standIns.has(clientId)) return undefined;
    if (cleanStart) {
      this.cm.destroySession(session, 'discarded');
      return undefined;
    }
    if (session.expiryTimer) clearTimeout(session.expiryTimer);
    session.expiryTimer = undefined;
    const state = session.export();
    const standIn = this.cm.newSession(clientId, session.expiryInterval);
    for (const [f, o] of session.subscriptions) standIn.setSubscription(f, o);
    session.close();
    // the session lives on the new node now: this node's rows go in its next commit, so a crash
    // before phase 2 does not bring a stale copy back at restart (docs/persistence.md)
    this.persister.drop(session);
    this.registry.sessions.set(clientId, standIn);
    const timer = setTimeout(endTimer, STAND_IN_MS, this, clientId);
    timer.unref();
    this.standIns.set(clientId, timer);
    return state;
  }

  /** Phase 2, on the old node: ends the stand-in and returns what it queued. */
  end(clientId: string): Delivery[] {
    const timer = this.standIns.get(clientId);
    if (!timer) return [];
    clearTimeout(timer);
    this.standIns.delete(clientId);
    const standIn = this.registry.sessions.get(clientId);
    if (!standIn) return [];
    const queued = standIn.pending();
    standIn.takeShared(); // handed over below, not redispatched here
    this.cm.destroySession(standIn, 'takeovered');
    return queued;
  }

  /**
   * On the new node: what the old node queued during the takeover. What was routed here
   * meanwhile was held back (the routes of both nodes matched for a moment, so some of it
   * is in both): it goes after the queue, without the copies the queue already has.
   */
  rest(clientId: string, deliveries: Delivery[]): void {
    const session = this.registry.sessions.get(clientId);
    const arriving = this.arriving.get(clientId);
    let direct: Delivery[] = [];
    let copies: Copies | undefined;
    if (arriving) {
      clearTimeout(arriving.timer);
      this.arriving.delete(clientId);
      if (session) {
        const self = this.cluster.node;
        copies = Copies.of(self, deliveries);
        direct = withoutHad(arriving.came, withoutCopies(session.heldBack ?? [], copies), self);
        session.heldBack = undefined;
        session.intake = undefined;
      }
    }
    for (const d of deliveries) {
      if (session) session.deliver(d);
      else this.dispatcher.countDropped('no_subscribers');
    }
    if (!session) return;
    for (const d of direct) session.deliver(d);
    // copies of the queue's messages still on their way here directly are dropped when they come
    if (copies && copies.size > 0) dropCopiesFor(session, copies);
    // a pushed session is stored here once it is whole, with its messages in order
    if (arriving?.pushed && this.registry.sessions.get(clientId) === session && session.expiryInterval !== 0) this.persister.persist(session);
  }

  /** Phase 2 never came (the old node went away): what was held back goes out now. */
  releaseHeld(clientId: string): void {
    const arriving = this.arriving.get(clientId);
    if (!arriving) return;
    this.rest(clientId, []);
  }

  /**
   * On the new node: puts the moved session in place (before `openSession` attaches it, or,
   * `pushed`, as an offline session the old node handed over while leaving: evacuation).
   */
  install(state: SessionState, pushed = false): void {
    const clientId = state.clientId;
    const old = this.registry.sessions.get(clientId);
    if (old) this.cm.destroySession(old, 'discarded');
    const session = Session.import(state, this.cm.sessionLimits, this.cm.sessionEvents);
    const held: Delivery[] = [];
    session.heldBack = held;
    session.intake = (d) => {
      held.push(d);
      return false;
    };
    const prior = this.arriving.get(clientId);
    if (prior) clearTimeout(prior.timer);
    const timer = setTimeout(releaseTimer, HOLD_MS, this, clientId);
    timer.unref();
    this.arriving.set(clientId, { timer, pushed, came: state });
    this.registry.sessions.set(clientId, session);
    this.cluster.registerClient(clientId);
    for (const [fullFilter, opts] of session.subscriptions) this.routes.add(clientId, fullFilter, opts);
    // offline until a connection attaches (openSession clears this): if the client went away
    // while its session was on the way, it expires here like any offline session
    if (state.expiryInterval !== NEVER_EXPIRES) {
      const at = state.expiresAt !== undefined && state.expiresAt > 0 ? state.expiresAt : Date.now() + state.expiryInterval * 1000;
      this.cm.armExpiry(session, at);
    }
    if (state.will) this.cm.adoptWill(clientId, state.will.msg, state.will.fireAt);
  }

  /**
   * Evacuation, on the leaving node: hands an offline session (or, if one is still there, its
   * connection is closed first, `takeovered`) to another node — phase 1 of a takeover the
   * leaving node drives. Its delayed will and expiry time go with it. Undefined when there is
   * no session to move.
   */
  push(clientId: string): SessionState | undefined {
    const session = this.registry.sessions.get(clientId);
    if (!session || this.standIns.has(clientId) || session.expiryInterval === 0) return undefined;
    const expiresAt = session.outlet ? 0 : session.expiresAt;
    const will = this.cm.takeWill(clientId);
    const state = this.begin(clientId, false);
    if (!state) return undefined;
    if (will) state.will = will;
    if (expiresAt > 0) state.expiresAt = expiresAt;
    return state;
  }

  /**
   * Evacuation, on the leaving node: the node the session was pushed to refused it or did
   * not answer. The session comes back here with what its stand-in queued meanwhile.
   */
  pushFailed(state: SessionState): void {
    const queued = this.end(state.clientId);
    this.install(state, true);
    this.rest(state.clientId, queued);
  }
}

/** `direct` without the messages `copies` holds (each copy matched once and taken from `copies`). */
function withoutCopies(direct: Delivery[], copies: Copies): Delivery[] {
  if (copies.size === 0 || direct.length === 0) return direct;
  const out: Delivery[] = [];
  for (const d of direct) if (!copies.take(d.msg)) out.push(d);
  return out;
}

/**
 * `direct` without what the session already had when it came (`came`, its queue and inflight
 * window): a message the old node had queued before the move whose direct copy, sent at the
 * same time, was slower than the session.
 */
function withoutHad(came: SessionState, direct: Delivery[], self: string): Delivery[] {
  if (direct.length === 0 || came.mqueue.length + came.inflight.length === 0) return direct;
  const had = Copies.of(self, [...came.mqueue, ...came.inflight.map((e) => e.delivery)]);
  return withoutCopies(direct, had);
}

/** For COPIES_MS, `session` drops what `copies` holds (then takes everything again). */
function dropCopiesFor(session: Session, copies: Copies): void {
  const intake = (d: Delivery): boolean => {
    if (!copies.take(d.msg)) return true;
    if (copies.size === 0 && session.intake === intake) session.intake = undefined;
    return false;
  };
  session.intake = intake;
  const timer = setTimeout(() => {
    if (session.intake === intake) session.intake = undefined;
  }, COPIES_MS);
  timer.unref();
}

function releaseTimer(t: RemoteTakeover, clientId: string): void {
  t.releaseHeld(clientId);
}

function endTimer(t: RemoteTakeover, clientId: string): void {
  t.end(clientId);
}
