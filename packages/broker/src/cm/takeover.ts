import type { ClusterLink } from '../cluster.js';
import type { SessionPersister } from '../persistence/session-writer.js';
import type { Dispatcher } from '../routing/dispatch.js';
import type { Routes } from '../routing/routes.js';
import { Session } from '../session/session.js';
import type { Delivery, SessionState } from '../session/types.js';
import { NEVER_EXPIRES, type ConnectionManager } from './manager.js';
import type { ClientRegistry } from './registry.js';

/** How long a stand-in waits for takeover phase 2 before it ends anyway (the new node died). */
const STAND_IN_MS = 15_000;

/**
 * Takeover across nodes, in two phases the cluster drives (docs/clustering.md): the old node
 * hands the session over and keeps a stand-in that holds the routes and queues what still
 * arrives; phase 2 ends the stand-in and sends its queue to the new node.
 */
export class RemoteTakeover {
  /** Stand-ins for sessions moving to another node: they keep the routes until phase 2. */
  private readonly standIns = new Map<string, NodeJS.Timeout>();

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

  /** On the new node: what the old node queued during the takeover. */
  rest(clientId: string, deliveries: Delivery[]): void {
    const session = this.registry.sessions.get(clientId);
    for (const d of deliveries) {
      if (session) session.deliver(d);
      else this.dispatcher.countDropped('no_subscribers');
    }
  }

  /** On the new node: puts the moved session in place (before `openSession` attaches it). */
  install(state: SessionState): void {
    const old = this.registry.sessions.get(state.clientId);
    if (old) this.cm.destroySession(old, 'discarded');
    const session = Session.import(state, this.cm.sessionLimits, this.cm.sessionEvents);
    this.registry.sessions.set(state.clientId, session);
    this.cluster.registerClient(state.clientId);
    for (const [fullFilter, opts] of session.subscriptions) this.routes.add(state.clientId, fullFilter, opts);
    // offline until a connection attaches (openSession clears this): if the client went away
    // while its session was on the way, it expires here like any offline session
    if (state.expiryInterval !== NEVER_EXPIRES) this.cm.armExpiry(session, Date.now() + state.expiryInterval * 1000);
  }
}

function endTimer(t: RemoteTakeover, clientId: string): void {
  t.end(clientId);
}
