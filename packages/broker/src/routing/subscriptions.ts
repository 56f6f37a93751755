import type { EventSink } from '../events.js';
import type { BrokerHooks, ClientInfo } from '../hooks.js';
import type { SessionPersister } from '../persistence/session-writer.js';
import type { Session } from '../session/session.js';
import type { SubOptions } from '../subscription.js';
import type { Routes } from './routes.js';

/** SUBSCRIBE and UNSUBSCRIBE as the node applies them (EMQX's emqx_broker:subscribe): session, store, routes, hooks. */
export class Subscriptions {
  constructor(
    private readonly routes: Routes,
    private readonly persister: SessionPersister,
    private readonly events: EventSink,
    private readonly hooks: BrokerHooks,
  ) {}

  /** Returns true when the subscription is new (for Retain Handling 1). */
  subscribe(session: Session, info: ClientInfo, fullFilter: string, opts: SubOptions): boolean {
    const existing = session.subscriptions.get(fullFilter);
    if (this.hooks.deliveryCheck?.(info, fullFilter)) opts.aclCheck = true;
    session.setSubscription(fullFilter, opts);
    if (session.expiryInterval !== 0) this.persister.persistSubscription(session, fullFilter, opts);
    this.routes.add(session.clientId, fullFilter, opts);
    if (this.events.listenerCount('session.subscribed') > 0) this.events.emit('session.subscribed', info, fullFilter, opts);
    return existing === undefined;
  }

  unsubscribe(session: Session, info: ClientInfo, fullFilter: string): boolean {
    const opts = session.subscriptions.get(fullFilter);
    if (!opts) return false;
    session.subscriptions.delete(fullFilter);
    if (session.expiryInterval !== 0) this.persister.persistSubscription(session, fullFilter, undefined);
    this.routes.remove(session.clientId, fullFilter, opts);
    if (this.events.listenerCount('session.unsubscribed') > 0) this.events.emit('session.unsubscribed', info, fullFilter);
    return true;
  }

  /** A session ends: its subscriptions leave the router (not the store: the session's rows go with it). */
  removeAll(session: Session): void {
    for (const [filter, opts] of session.subscriptions) this.routes.remove(session.clientId, filter, opts);
    session.subscriptions.clear();
  }
}
