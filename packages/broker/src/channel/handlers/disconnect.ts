/** DISCONNECT from the client: a last Session Expiry Interval, will or no will. */
import { RC } from '@vireo/mqtt';
import type { IDisconnectPacket } from '@vireo/mqtt';
import { protocolError } from '../send.js';
import type { ChannelState } from '../state.js';

export function handleDisconnect(ch: ChannelState, p: IDisconnectPacket): void {
  if (ch.state !== 'connected') return ch.close('normal');
  const rc = p.reasonCode ?? 0;
  const newExpiry = p.properties?.sessionExpiryInterval;
  if (newExpiry !== undefined && ch.session) {
    if (ch.sessionExpiryAtConnect === 0 && newExpiry !== 0) {
      // [MQTT-3.14.2-2]: can't make a session persistent at DISCONNECT
      return protocolError(ch, 'session expiry set at DISCONNECT after 0 at CONNECT');
    }
    ch.session.expiryInterval = newExpiry;
  }
  // a normal DISCONNECT discards the will; 0x04 asks for it to be published
  if (rc !== RC.DISCONNECT_WITH_WILL) ch.will = undefined;
  ch.close('normal');
}
