/**
 * `vireo ctl cluster status|join|leave|force-leave` (EMQX's `emqx ctl cluster …`), over the
 * HTTP API's `/api/v5/cluster` endpoints (ctl.ts hands each command here first).
 */
import { table } from './ctl-format.js';

export const CLUSTER_USAGE = `  cluster status                       Running, stopped and down nodes as this node sees them
  cluster join NODE                    This node joins NODE's cluster (NODE: name@host or host:port
                                       of its cluster port); it leaves its own cluster first
  cluster leave                        This node leaves its cluster (peers mark it stopped, then forget it)
  cluster force-leave NODE             Remove another node (down, or running) from the cluster
`;

type Call = (method: string, path: string, body?: unknown) => Promise<unknown>;
type Out = (data: unknown, text: () => string) => string;

/** A usage mistake (exit 2). */
export class ClusterUsageError extends Error {}

interface Status {
  self: string;
  discovery_strategy: string;
  running_nodes: string[];
  stopped_nodes: string[];
  down_nodes: string[];
  left: boolean;
  members: { node: string; addr: string; status: string; since: number }[];
}

/** Runs the command when it is a `cluster` one; undefined when it is not. */
export function clusterCommand(p: string[], call: Call, out: Out): Promise<string> | undefined {
  if (p[0] !== 'cluster') return undefined;
  const [, sub, arg] = p;
  const need = (what: string): string => {
    if (arg === undefined || arg === '') throw new ClusterUsageError(`missing ${what}`);
    return arg;
  };
  return (async () => {
    switch (sub) {
      case 'status': {
        const s = (await call('GET', '/api/v5/cluster')) as Status;
        return out(s, () => statusText(s));
      }
      case 'join': {
        const r = (await call('POST', '/api/v5/cluster/join', { node: need('NODE') })) as { node: string; addr: string };
        return out(r, () => `joined the cluster of ${r.node} (${r.addr})\n`);
      }
      case 'leave':
        await call('POST', '/api/v5/cluster/leave');
        return out({ left: true }, () => 'left the cluster\n');
      case 'force-leave': {
        const node = need('NODE');
        await call('DELETE', `/api/v5/cluster/${encodeURIComponent(node)}/force_leave`);
        return out({ removed: node }, () => `${node} removed from the cluster\n`);
      }
      default:
        throw new ClusterUsageError(`unknown command: ${p.join(' ')}`);
    }
  })();
}

/** EMQX's `Cluster status: #{running_nodes => …, stopped_nodes => …}`, one line per kind, then each member. */
function statusText(s: Status): string {
  const list = (l: string[]) => (l.length ? l.join(', ') : '-');
  const head =
    `Cluster status of ${s.self} (discovery: ${s.discovery_strategy}${s.left ? ', left its cluster' : ''}):\n` +
    `  running_nodes : ${list(s.running_nodes)}\n` +
    `  stopped_nodes : ${list(s.stopped_nodes)}\n` +
    `  down_nodes    : ${list(s.down_nodes)}\n\n`;
  const rows = s.members.map((m) => ({ ...m, since: m.since ? new Date(m.since).toISOString() : '-' }));
  return head + table(rows, ['node', 'addr', 'status', 'since']);
}
