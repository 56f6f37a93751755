/**
 * What the deployment tests read from a node's access-control configuration, in one place:
 * when the shape of `authentication` / `authorization.sources` changes (EMQX's lists), these
 * two functions change, not the tests.
 */
import type { VireoConfig } from '@vireo/server';

/** Clients must log in: an authenticator is on (EMQX 5: then clients without credentials are refused). */
export function loginRequired(c: VireoConfig): boolean {
  return c.authentication.some((a) => a.enable);
}

/** The ACL file the node reads, if any (the first file source that is on). */
export function aclFile(c: VireoConfig): string | undefined {
  const f = c.authorization.sources.find((s) => s.id === 'file' && s.enable);
  return f?.id === 'file' ? f.path : undefined;
}
