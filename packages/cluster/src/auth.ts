/**
 * Cookie proof by HMAC challenge–response: each side answers the other's random nonce
 * with HMAC-SHA256(cookie, purpose | nonce | own node name). The cookie never crosses
 * the wire, and a recorded answer is useless against a fresh nonce.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export function nonce(): Buffer {
  return randomBytes(32);
}

export function proof(cookie: string, purpose: 'hello' | 'welcome', challenge: Buffer, node: string): Buffer {
  return createHmac('sha256', cookie).update(purpose).update(challenge).update(node).digest();
}

export function verify(cookie: string, purpose: 'hello' | 'welcome', challenge: Buffer, node: string, mac: Buffer | undefined): boolean {
  const expected = proof(cookie, purpose, challenge, node);
  return mac !== undefined && mac.length === expected.length && timingSafeEqual(mac, expected);
}
