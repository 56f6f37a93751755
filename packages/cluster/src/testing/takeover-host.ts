/**
 * Fixtures of the cluster's takeover tests (takeover-rest, takeover-shutdown): a ClusterHost that
 * records the sessions and stand-in queues handed to it, and the message and session it pushes.
 */
import type pino from 'pino';
import type { ClusterHost, Delivery, Message, SessionState } from '@vireo/broker';

export function message(payload: string): Message {
  return { id: 1, topic: 't', payload: Buffer.from(payload), qos: 1, retain: false, properties: undefined, from: 'pub', timestamp: Date.now(), expiresAt: 0 };
}

export function delivery(payload: string): Delivery {
  return { msg: message(payload), qos: 1, retain: false, subIds: undefined, share: undefined };
}

/** The session a test host pushes: one QoS 1 subscription, `mqueue` queued. */
export function sessionState(clientId: string, mqueue: Delivery[] = []): SessionState {
  return {
    clientId,
    createdAt: Date.now(),
    expiryInterval: 600,
    subscriptions: [['t', { qos: 1, nl: false, rap: false, rh: 0, subId: 0 }]],
    inflight: [],
    mqueue,
    awaitingRel: [],
    nextPacketId: 1,
  };
}

/**
 * A host that records what the cluster hands it: `standIn` is what its stand-in queued, `onEnd`
 * runs as the stand-in ends, `pushed` is the state of a session it pushes.
 */
export function recordingHost(logger: pino.Logger, opts: { standIn?: Delivery[]; onEnd?: () => void; pushed?: (clientId: string) => SessionState } = {}) {
  const installed: SessionState[] = [];
  const rests: { clientId: string; deliveries: Delivery[] }[] = [];
  const h = {
    logger,
    dispatchLocal: () => 0,
    retainLocal: () => undefined,
    retainedMessages: () => [],
    localRoutes: () => [],
    nodesChanged: () => undefined,
    localClients: () => [],
    takeoverBegin: () => undefined,
    takeoverEnd: () => {
      opts.onEnd?.();
      return opts.standIn ?? [];
    },
    takeoverRest: (clientId: string, deliveries: Delivery[]) => void rests.push({ clientId, deliveries }),
    pushBegin: (clientId: string) => (opts.pushed ?? sessionState)(clientId),
    pushInstall: (s: SessionState) => void installed.push(s),
    pushFailed: () => undefined,
  } satisfies ClusterHost;
  return { host: h, installed, rests };
}

/** Waits for a condition, never a fixed time: polls `cond` until it holds, or throws after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
