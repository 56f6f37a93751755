/**
 * What the deployment tests read from a node's access-control configuration, in one place:
 * when the shape of `authentication` / `authorization.sources` changes (EMQX's lists), these
 * two functions change, not the tests.
 */
import type { VireoConfig } from '@vireo/server';

/** Clients must log in: authentication on and anonymous clients refused. */
export function loginRequired(c: VireoConfig): boolean {
  return c.authentication.enable && !c.authentication.allow_anonymous;
}

/** The ACL file the node reads, if any. */
export function aclFile(c: VireoConfig): string | undefined {
  return c.authorization.sources.file.path;
}
