import type { ChannelHandle } from '../channel/context.js';
import type { Session } from '../session/session.js';

/**
 * This node's clients (EMQX's emqx_cm tables): sessions by clientid, connected channels by
 * clientid. Plain maps the connection manager writes; routing and queries only read them.
 */
export class ClientRegistry {
  readonly sessions = new Map<string, Session>();
  readonly channels = new Map<string, ChannelHandle>();
}
