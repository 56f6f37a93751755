import { parseSharedFilter } from '@vireo/mqtt';
import type { ClusterLink } from '../cluster.js';
import type { SubOptions } from '../subscription.js';
import type { Router } from './router.js';

/** The filter a subscription is routed by: `$share/{group}/` stripped from a shared one. */
export function routeFilter(fullFilter: string, opts: SubOptions): string {
  return opts.share === undefined ? fullFilter : (parseSharedFilter(fullFilter) as { filter: string }).filter;
}

/**
 * Keeps this node's router and the cluster's route table in step: the first local subscriber
 * of a filter (or shared group) adds a cluster route, the last one removes it.
 */
export class Routes {
  constructor(
    private readonly router: Router,
    private readonly cluster: ClusterLink,
  ) {}

  add(clientId: string, fullFilter: string, opts: SubOptions): void {
    const filter = routeFilter(fullFilter, opts);
    const hadRoute = this.has(filter, opts.share);
    this.router.subscribe(clientId, filter, opts);
    if (!hadRoute) this.cluster.addRoute(filter, opts.share);
  }

  remove(clientId: string, fullFilter: string, opts: SubOptions): void {
    const filter = routeFilter(fullFilter, opts);
    this.router.unsubscribe(clientId, filter, opts.share);
    if (!this.has(filter, opts.share)) this.cluster.deleteRoute(filter, opts.share);
  }

  private has(filter: string, share: string | undefined): boolean {
    if (share === undefined) return (this.router.direct.entriesOf(filter)?.size ?? 0) > 0;
    return this.router.sharedGroup(share, filter) !== undefined;
  }

  /** Every route of this node, `group` set for shared subscriptions. */
  local(): { filter: string; group: string | undefined }[] {
    const out: { filter: string; group: string | undefined }[] = [];
    for (const [filter] of this.router.direct.all()) out.push({ filter, group: undefined });
    for (const [filter, groups] of this.router.shared.all()) for (const g of groups.keys()) out.push({ filter, group: g });
    return out;
  }
}
