/**
 * `vireo ctl retainer info|topics|clean [TOPIC]` (EMQX's `emqx ctl retainer …`), over the
 * HTTP API's `/api/v5/mqtt/retainer` endpoints.
 */
export const RETAINER_USAGE = `  retainer info                        How many retained messages the cluster holds
  retainer topics                      Topics with a retained message
  retainer clean [TOPIC]               Delete one retained message, or all, on every node
`;

type Call = (method: string, path: string, body?: unknown) => Promise<unknown>;
type Out = (data: unknown, text: () => string) => string;

interface Listed {
  data: { topic: string }[];
  meta: { count: number; hasnext: boolean };
}

/** A usage mistake (exit 2). */
export class RetainerUsageError extends Error {}

/** Runs the command when it is a `retainer` one; undefined when it is not. */
export function retainerCommand(p: string[], call: Call, out: Out): Promise<string> | undefined {
  if (p[0] !== 'retainer') return undefined;
  const [, sub, topic] = p;
  return (async () => {
    switch (sub) {
      case 'info': {
        const r = (await call('GET', '/api/v5/mqtt/retainer/messages?limit=1')) as Listed;
        return out({ retained: r.meta.count }, () => `retained messages: ${r.meta.count}\n`);
      }
      case 'topics': {
        const topics: string[] = [];
        for (let page = 1; ; page++) {
          const r = (await call('GET', `/api/v5/mqtt/retainer/messages?limit=10000&page=${page}`)) as Listed;
          topics.push(...r.data.map((m) => m.topic));
          if (!r.meta.hasnext) break;
        }
        return out(topics, () => topics.map((t) => `${t}\n`).join(''));
      }
      case 'clean': {
        if (topic !== undefined) {
          await call('DELETE', `/api/v5/mqtt/retainer/message/${encodeURIComponent(topic)}`);
          return out({ deleted: 1 }, () => `deleted the retained message of ${topic}\n`);
        }
        const r = (await call('DELETE', '/api/v5/mqtt/retainer/messages')) as { deleted: number };
        return out(r, () => `deleted ${r.deleted} retained messages\n`);
      }
      default:
        throw new RetainerUsageError(`unknown command: ${p.join(' ')}`);
    }
  })();
}
