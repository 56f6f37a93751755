/**
 * Built-in users hold on every node, as EMQX's built-in database does: a change made
 * through one node's API is copied to every other running node as the stored record (the
 * salted hash, never the password), and a node that joins later, or whose API starts,
 * gets the users it lacks. A user deleted while a node was away comes back from that node
 * when it rejoins; a password changed on both sides of a partition keeps each side's until
 * it is changed again.
 */
import type { AccessControl, Broker, UserRecord } from '@vireo/broker';
import type { ClusterQuery } from './cluster-query.js';

function isRecord(v: unknown): v is UserRecord {
  const r = v as UserRecord | undefined;
  return !!r && typeof r.salt === 'string' && typeof r.hash === 'string' && typeof r.algorithm === 'object' && r.algorithm !== null;
}

/** This node's part: put (replace, or only when missing), delete, list. */
export function usersOps(access: AccessControl): Record<string, (a: Record<string, unknown>) => unknown> {
  return {
    'users.put': (a) => {
      const id = String(a.id);
      if (!isRecord(a.rec)) throw new Error('rec: a stored user record is required');
      if (a.onlyIfMissing === true && access.users.record(id)) return false;
      access.users.putRecord(id, a.rec);
      return true;
    },
    'users.delete': (a) => access.users.delete(String(a.id)),
    'users.list': () => access.users.records(),
  };
}

/** After a local change: the same on every other node (a partial copy is logged, not failed). */
export async function copyUser(broker: Broker, access: AccessControl, q: ClusterQuery, id: string): Promise<void> {
  const others = q.nodes().filter((n) => n !== q.self);
  if (others.length === 0) return;
  const rec = access.users.record(id);
  const g = rec ? await q.gather('users.put', { id, rec }, others) : await q.gather('users.delete', { id }, others);
  for (const e of g.errors) broker.logger.warn({ user_id: id, on_node: e.node, err: e.message }, 'Could not copy a user change to a node; it gets it when it rejoins');
}

export function syncUsers(broker: Broker, access: AccessControl, q: ClusterQuery): () => void {
  const push = (node: string) => {
    const all = access.users.records();
    for (const [id, rec] of all) void q.call(node, 'users.put', { id, rec, onlyIfMissing: true }).catch(() => undefined);
    if (all.length) broker.logger.info({ on_node: node, users: all.length }, 'Users copied to a node that joined');
  };
  let known = new Set(broker.cluster.nodes());
  const onChange = (nodes: string[]) => {
    const fresh = nodes.filter((n) => !known.has(n) && n !== q.self);
    known = new Set(nodes);
    for (const node of fresh) push(node);
  };
  broker.on('cluster.nodes_changed', onChange);
  const others = q.nodes().filter((n) => n !== q.self);
  if (others.length > 0) {
    void q.gather<[string, UserRecord][]>('users.list', {}, others).then((g) => {
      for (const p of g.parts) for (const [id, rec] of p.value) if (!access.users.record(id) && isRecord(rec)) access.users.putRecord(id, rec);
    });
  }
  return () => broker.off('cluster.nodes_changed', onChange);
}
