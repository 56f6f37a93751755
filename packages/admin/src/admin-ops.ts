/**
 * This node's part of every cluster-wide API answer: the operations other nodes' HTTP APIs
 * (and this one's) call through the cluster link. Arguments arrive as JSON from an
 * authenticated peer and are checked against the op's schema (op-schemas.ts, built from
 * the HTTP routes' own) before its handler runs: a bad one is answered with an error.
 */
import { RC, topicMatches } from '@vireo/mqtt';
import {
  type AdminCallHandler,
  type Broker,
  type ClientInfo,
  type ClientView,
  type Session,
  type SubOptions,
  type SubscriptionView,
  type TraceInfo,
  type TraceType,
  TraceError,
} from '@vireo/broker';
import type { Registry } from 'prom-client';
import { slice, type SliceArgs } from './cluster-query.js';
import { listeners, metrics, nodeInfo, stats } from './node-facts.js';
import { OP_SCHEMAS, opValidator } from './op-schemas.js';

export interface ClientFilters {
  clientid?: string;
  username?: string;
  ip_address?: string;
  conn_state?: 'connected' | 'disconnected';
  like_clientid?: string;
  like_username?: string;
  /** MQTT protocol version: 3, 4 (3.1.1) or 5 */
  proto_ver?: number;
}

export interface SubscriptionFilters {
  clientid?: string;
  topic?: string;
  qos?: number;
  share_group?: string;
  match_topic?: string;
}

export interface SubscribeArgs {
  clientid: string;
  topic: string;
  /** Parsed at the node that took the request: `$share/<group>/…` split off. */
  share: string | undefined;
  qos: 0 | 1 | 2;
  nl: number;
  rap: number;
  rh: 0 | 1 | 2;
}

export interface TraceStartArgs {
  name: string;
  type: TraceType;
  filter: string;
  endAt: number;
  maxBytes: number;
}

/** A trace as one node reports it; the API merges these by name. */
export type NodeTrace = TraceInfo & { node: string };

export interface TopicView {
  topic: string;
  node: string;
}

type Args = Record<string, unknown>;

function str(a: Args, key: string): string {
  const v = a[key];
  if (typeof v !== 'string') throw new Error(`${key}: a string is required`);
  return v;
}

/** The connected client's info, or a stand-in for an offline session (the API acts for it). */
function clientInfoOf(broker: Broker, session: Session): ClientInfo {
  return broker.connection(session.clientId)?.info ?? { clientId: session.clientId, username: undefined, peer: '', protocolVersion: 5, listener: '' };
}

export function keepClient(q: ClientFilters): (c: ClientView) => boolean {
  return (c) =>
    (q.clientid === undefined || c.clientid === q.clientid) &&
    (q.username === undefined || c.username === q.username) &&
    (q.ip_address === undefined || c.ip_address === q.ip_address) &&
    (q.conn_state === undefined || c.connected === (q.conn_state === 'connected')) &&
    (q.like_clientid === undefined || c.clientid.includes(q.like_clientid)) &&
    (q.like_username === undefined || (c.username ?? '').includes(q.like_username)) &&
    (q.proto_ver === undefined || c.proto_ver === q.proto_ver);
}

export function keepSubscription(q: SubscriptionFilters): (s: SubscriptionView) => boolean {
  return (s) =>
    (q.clientid === undefined || s.clientid === q.clientid) &&
    (q.topic === undefined || s.topic === q.topic) &&
    (q.qos === undefined || s.qos === q.qos) &&
    (q.share_group === undefined || s.topic.startsWith(`$share/${q.share_group}/`)) &&
    (q.match_topic === undefined || topicMatches(s.topic, q.match_topic));
}

function* localRoutes(broker: Broker): IterableIterator<TopicView> {
  const node = broker.options.nodeName;
  for (const r of broker.localRoutes()) yield { topic: r.group === undefined ? r.filter : `$share/${r.group}/${r.filter}`, node };
}

function* localSubscriptions(broker: Broker): IterableIterator<SubscriptionView> {
  for (const s of broker.allSessions()) yield* broker.subscriptionViews(s);
}

/**
 * `extra`: operations other parts of the API serve (bridges, alarms, rules…), by name;
 * `schemas`: the arguments of operations OP_SCHEMAS does not list (the synced tables').
 * Every operation must have a schema: one without is a programming error, refused here
 * rather than served unchecked.
 */
export function adminOps(
  broker: Broker,
  registry: Registry,
  extra: Record<string, (a: Args) => unknown> = {},
  schemas: Record<string, Record<string, unknown>> = {},
): AdminCallHandler {
  const allSchemas = { ...OP_SCHEMAS, ...schemas };
  const check = opValidator(allSchemas);
  const node = broker.options.nodeName;
  const ops: Record<string, (a: Args) => unknown> = {
    'clients.page': (a) => {
      const s = a as unknown as SliceArgs<ClientFilters>;
      return slice(broker.clientViews(), s, keepClient(s.filters ?? {}));
    },
    'client.get': (a) => broker.clientView(str(a, 'clientid')) ?? null,
    'client.kick': (a) => broker.kick(str(a, 'clientid')) || null,
    'client.subscriptions': (a) => {
      const session = broker.session(str(a, 'clientid'));
      return session ? broker.subscriptionViews(session) : null;
    },
    'client.subscribe': (a) => {
      const b = a as unknown as SubscribeArgs;
      const session = broker.session(str(a, 'clientid'));
      if (!session) return null;
      const opts: SubOptions = { qos: b.qos, nl: b.nl === 1, rap: b.rap === 1, rh: b.rh, subId: 0 };
      if (b.share !== undefined) opts.share = b.share;
      const topic = str(a, 'topic');
      const isNew = broker.subscribe(session, clientInfoOf(broker, session), topic, opts);
      broker.sendRetained(session, topic, opts, isNew);
      return { clientid: session.clientId, topic, qos: b.qos, nl: b.nl, rap: b.rap, rh: b.rh, reason_code: b.qos === 0 ? RC.SUCCESS : b.qos };
    },
    'client.unsubscribe': (a) => {
      const session = broker.session(str(a, 'clientid'));
      if (!session) return null;
      return broker.unsubscribe(session, clientInfoOf(broker, session), str(a, 'topic')) ? 'unsubscribed' : 'no_subscription';
    },
    'subscriptions.page': (a) => {
      const s = a as unknown as SliceArgs<SubscriptionFilters>;
      return slice(localSubscriptions(broker), s, keepSubscription(s.filters ?? {}));
    },
    'topics.page': (a) => {
      const s = a as unknown as SliceArgs<{ topic?: string }>;
      const topic = s.filters?.topic;
      return slice(localRoutes(broker), s, (r) => topic === undefined || r.topic === topic);
    },
    'node.info': () => nodeInfo(broker),
    'node.stats': () => stats(broker),
    'node.metrics': () => metrics(broker),
    'node.listeners': () => listeners(broker),
    'prometheus.json': () => registry.getMetricsAsJSON(),
    'trace.start': (a) => {
      const b = a as unknown as TraceStartArgs;
      try {
        const t = broker.startTrace({ name: str(a, 'name'), type: b.type, filter: str(a, 'filter'), endAt: Number(b.endAt), maxBytes: Number(b.maxBytes) });
        return { trace: { ...t.info(), node } satisfies NodeTrace };
      } catch (err) {
        if (err instanceof TraceError && err.kind === 'invalid') return { refused: err.message };
        if (err instanceof TraceError && err.kind === 'limit') return { limit: err.message };
        return { conflict: (err as Error).message };
      }
    },
    'trace.list': () => broker.tracer.list().map((t): NodeTrace => ({ ...t, node })),
    'trace.stop': (a) => {
      const name = str(a, 'name');
      broker.stopTrace(name);
      const t = broker.tracer.list().find((x) => x.name === name);
      return t ? ({ ...t, node } satisfies NodeTrace) : null;
    },
    'trace.delete': (a) => {
      const name = str(a, 'name');
      broker.stopTrace(name);
      return broker.tracer.delete(name);
    },
  };
  Object.assign(ops, extra);
  const unchecked = Object.keys(ops).filter((op) => !(op in allSchemas));
  if (unchecked.length > 0) throw new Error(`admin operations without an argument schema (add them to op-schemas.ts): ${unchecked.join(', ')}`);
  return async (op, args) => {
    const fn = ops[op];
    if (!fn) throw new Error(`unknown admin operation ${op} (nodes run different versions?)`);
    const a = args ?? {};
    const bad = check(op, a);
    if (bad !== undefined) {
      broker.logger.warn({ op, err: bad }, 'Admin operation from the cluster refused: bad arguments');
      throw new Error(`${op}: bad arguments: ${bad}`);
    }
    return fn(a as Args);
  };
}
