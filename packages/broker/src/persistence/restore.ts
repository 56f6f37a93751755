import type { Logger } from 'pino';
import type { ConnectionManager } from '../cm/manager.js';
import { NEVER_EXPIRES } from '../cm/manager.js';
import type { ClientRegistry } from '../cm/registry.js';
import type { WillScheduler } from '../cm/wills.js';
import { isExpired, newMessageId } from '../message.js';
import type { Retainer } from '../routing/retainer.js';
import type { Routes } from '../routing/routes.js';
import { indexStored, sessionFromStore } from '../session/journal.js';
import type { SessionPersister } from './session-writer.js';
import type { BrokerStore } from './store.js';

export interface RestoreTargets {
  store: BrokerStore;
  retainer: Retainer;
  registry: ClientRegistry;
  cm: ConnectionManager;
  persister: SessionPersister;
  routes: Routes;
  wills: WillScheduler;
  logger: Logger;
}

/** Puts back what the store kept: retained messages, persistent sessions with their routes, delayed wills. */
export async function restore(t: RestoreTargets): Promise<void> {
  const { store, retainer, registry, cm, persister, routes, logger } = t;
  const { retained, sessions, deliveries, awaitingRel, wills } = await store.load();
  const held = indexStored({ deliveries, awaitingRel });
  const now = Date.now();
  let nRetained = 0;
  for (const msg of retained) {
    if (isExpired(msg, now)) store.deleteRetained(msg.topic);
    else {
      retainer.restore({ ...msg, id: newMessageId() }); // ids are per node lifetime
      nRetained++;
    }
  }
  let nSessions = 0;
  for (const p of sessions) {
    const never = p.expiryInterval === NEVER_EXPIRES;
    // a session that was connected when the node stopped expires counting from now
    const expiresAt = never ? 0 : p.expiresAt || now + p.expiryInterval * 1000;
    if (!never && expiresAt <= now) {
      store.deleteSession(p.clientId);
      continue;
    }
    const session = sessionFromStore(p, held, cm.sessionLimits, cm.sessionEvents, persister.journal);
    registry.sessions.set(p.clientId, session);
    persister.markStored(p.clientId);
    for (const [fullFilter, opts] of p.subscriptions) {
      session.setSubscription(fullFilter, opts);
      routes.add(p.clientId, fullFilter, opts);
    }
    if (!never) cm.armExpiry(session, expiresAt);
    nSessions++;
  }
  // delayed wills: those due while the node was down go out now, after the routes are back
  for (const w of wills) t.wills.restore(w.clientId, { ...w.msg, id: newMessageId() }, w.fireAt, now);
  if (nSessions + nRetained + wills.length > 0 || store.location !== 'memory') {
    logger.info({ sessions: nSessions, retained: nRetained, wills: wills.length, store: store.location }, 'Restored persistent sessions and retained messages');
  }
}
