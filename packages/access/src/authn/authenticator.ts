/**
 * One link of the authentication chain (EMQX 5's authenticator): it allows or denies a
 * client it knows, and passes on (`ignore`) one it does not.
 */
import type { AuthenticateRequest } from '@vireo/broker';
import type { Acl } from '../acl.js';

export interface AuthnAllow {
  result: 'allow';
  isSuperuser?: boolean;
  /** The client's own rules (a JWT's `acl` claim, an HTTP answer's `acl`), checked before the sources. */
  acl?: Acl;
  /** When the client's authentication ends (ms since the epoch): it is disconnected then (a JWT's `exp`, an HTTP answer's `expire_at`). */
  expireAt?: number;
}

export type AuthnOutcome = AuthnAllow | { result: 'deny'; reason: string } | { result: 'ignore'; reason: string };

export interface Authenticator {
  /** EMQX's id: `password_based:built_in_database`, `password_based:http`, `jwt`. */
  readonly id: string;
  authenticate(req: AuthenticateRequest): Promise<AuthnOutcome>;
  close(): void;
}

/** The values templates may use (`${clientid}`…), from a CONNECT. */
export function templateVars(req: AuthenticateRequest): Record<string, string | undefined> {
  return {
    clientid: req.clientId,
    username: req.username,
    password: req.password?.toString('utf8'),
    peerhost: hostOnly(req.peer),
    cert_common_name: req.certCommonName,
  };
}

function hostOnly(peer: string): string {
  const i = peer.lastIndexOf(':');
  const host = i < 0 ? peer : peer.slice(0, i);
  const h = host.startsWith('[') ? host.slice(1, -1) : host;
  return h.startsWith('::ffff:') && h.includes('.') ? h.slice(7) : h;
}
