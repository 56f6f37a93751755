import { SubscriptionTrie } from '@vireo/mqtt';
import type { SubOptions } from '../subscription.js';
import { SharedGroup } from './shared-group.js';

/**
 * This node's subscriptions: plain filters in one trie keyed by clientid, shared groups in
 * another keyed by group name. The route table a cluster replicates is derived from it.
 */
export class Router {
  readonly direct = new SubscriptionTrie<SubOptions>();
  readonly shared = new SubscriptionTrie<SharedGroup>();

  /** Returns true when the subscription is new (for retain handling 1). */
  subscribe(clientId: string, filter: string, opts: SubOptions): boolean {
    if (opts.share === undefined) return this.direct.set(filter, clientId, opts);
    let group = this.shared.get(filter, opts.share);
    if (!group) {
      group = new SharedGroup(opts.share, filter);
      this.shared.set(filter, opts.share, group);
    }
    return group.add(clientId, opts);
  }

  unsubscribe(clientId: string, filter: string, share: string | undefined): boolean {
    if (share === undefined) return this.direct.delete(filter, clientId);
    const group = this.shared.get(filter, share);
    if (!group || !group.remove(clientId)) return false;
    if (group.size === 0) this.shared.delete(filter, share);
    return true;
  }

  sharedGroup(group: string, filter: string): SharedGroup | undefined {
    return this.shared.get(filter, group);
  }

  /** Number of subscriptions, shared members included. */
  get subscriptionCount(): number {
    let shared = 0;
    for (const [, groups] of this.shared.all()) for (const g of groups.values()) shared += g.size;
    return this.direct.size + shared;
  }

  get topicCount(): number {
    return this.direct.filters + this.shared.filters;
  }
}
