/**
 * What each frame type a peer sends after the handshake does: one handler per frame body,
 * looked up by the body's name. Handshake and heartbeat frames never get here (inbound.ts
 * and outbound.ts handle them).
 */
import type { AdminRpc } from './admin-rpc.js';
import type { Forwarder } from './forwarder.js';
import type { Membership } from './membership.js';
import type { RetainedSync } from './retained-sync.js';
import type { RouteSync } from './route-sync.js';
import type { Takeover } from './takeover.js';
import type { Frame } from './wire.js';

/** Where a frame came from: the peer's node name, and its stream to us. */
export interface FrameSource {
  readonly node: string;
  close(reason: string): void;
}

export type FrameBodies = Omit<Frame, 'challenge' | 'hello' | 'welcome' | 'proof' | 'refused' | 'heartbeat'>;
export type FrameKind = keyof FrameBodies;

export type FrameHandlers = {
  [K in FrameKind]-?: (from: FrameSource, body: NonNullable<FrameBodies[K]>) => void;
};

const KINDS: readonly FrameKind[] = [
  'forward',
  'forward_ack',
  'routes',
  'retained',
  'leave',
  'members',
  'takeover',
  'takeover_reply',
  'takeover_end',
  'takeover_rest',
  'session_push',
  'session_push_refused',
  'takeover_barrier',
  'takeover_barrier_done',
  'takeover_rest_ack',
  'admin_request',
  'admin_reply',
];

/** Runs the handler of the frame's body; returns its kind (undefined: none of ours). */
export function dispatchFrame(handlers: FrameHandlers, from: FrameSource, f: Frame): FrameKind | undefined {
  for (const kind of KINDS) {
    const body = f[kind];
    if (body == null) continue;
    (handlers[kind] as (from: FrameSource, body: unknown) => void)(from, body);
    return kind;
  }
  return undefined;
}

/** The modules that handle peer frames (frame-handlers' only view of them). */
export interface FrameParts {
  forwarder: Pick<Forwarder, 'receive' | 'acked'>;
  routes: Pick<RouteSync, 'receive'>;
  retained: Pick<RetainedSync, 'receive'>;
  takeover: Pick<Takeover, 'onRequest' | 'onReply' | 'onEnd' | 'onRest' | 'onPush' | 'onPushRefused' | 'onBarrier' | 'onBarrierDone' | 'onRestAck'>;
  members: Pick<Membership, 'receive'>;
  admin: Pick<AdminRpc, 'onRequest' | 'onReply'>;
  /** `node` said it is stopping (reported `stopped` rather than `down`). */
  leaving(node: string): void;
}

export function peerFrameHandlers(p: FrameParts): FrameHandlers {
  return {
    forward: (from, body) => p.forwarder.receive(from.node, body),
    forward_ack: (from, body) => p.forwarder.acked(from.node, body),
    routes: (from, body) => {
      if (p.routes.receive(from.node, body) === 'gap') from.close('route sequence gap');
    },
    retained: (_from, body) => p.retained.receive(body),
    leave: (from) => p.leaving(from.node),
    members: (from, body) => p.members.receive(from.node, body),
    takeover: (from, body) => p.takeover.onRequest(from.node, body),
    takeover_reply: (from, body) => p.takeover.onReply(from.node, body),
    takeover_end: (from, body) => p.takeover.onEnd(from.node, body),
    takeover_rest: (from, body) => p.takeover.onRest(body, from.node),
    session_push: (from, body) => p.takeover.onPush(from.node, body),
    session_push_refused: (from, body) => p.takeover.onPushRefused(from.node, body),
    takeover_barrier: (_from, body) => p.takeover.onBarrier(body),
    takeover_barrier_done: (from, body) => p.takeover.onBarrierDone(from.node, body),
    takeover_rest_ack: (from, body) => p.takeover.onRestAck(from.node, body),
    admin_request: (from, body) => p.admin.onRequest(from.node, body),
    admin_reply: (from, body) => p.admin.onReply(from.node, body),
  };
}
