/**
 * The subscription trie: topic filter → entries keyed by subscriber. Matching walks the
 * levels of one topic, never scans the filters, and visits entries through a callback so
 * the publish path allocates nothing per match.
 */

class TrieNode<V> {
  children: Map<string, TrieNode<V>> | undefined;
  plus: TrieNode<V> | undefined;
  hash: TrieNode<V> | undefined;
  /** Entries of the filter ending here, keyed by subscriber id. */
  entries: Map<string, V> | undefined;
  filter = '';
}

export type TrieVisitor<V> = (key: string, value: V, filter: string) => void;

export class SubscriptionTrie<V> {
  private readonly root = new TrieNode<V>();
  /** Exact (wildcard-free) filters are looked up directly: the common case costs one Map get. */
  private readonly exact = new Map<string, TrieNode<V>>();
  private filterCount = 0;
  private entryCount = 0;

  /** Number of distinct filters with at least one entry. */
  get filters(): number {
    return this.filterCount;
  }

  /** Number of (filter, key) entries. */
  get size(): number {
    return this.entryCount;
  }

  /** Adds or replaces the entry of `key` under `filter`; returns true when it was new. */
  set(filter: string, key: string, value: V): boolean {
    const node = this.nodeFor(filter, true)!;
    if (!node.entries) {
      node.entries = new Map();
      node.filter = filter;
    }
    if (node.entries.size === 0) this.filterCount++;
    const isNew = !node.entries.has(key);
    node.entries.set(key, value);
    if (isNew) this.entryCount++;
    return isNew;
  }

  get(filter: string, key: string): V | undefined {
    return this.nodeFor(filter, false)?.entries?.get(key);
  }

  /** Entries of one filter (exactly this filter, not what it matches). */
  entriesOf(filter: string): ReadonlyMap<string, V> | undefined {
    return this.nodeFor(filter, false)?.entries;
  }

  delete(filter: string, key: string): boolean {
    const path: TrieNode<V>[] = [];
    const node = this.nodeFor(filter, false, path);
    if (!node?.entries?.delete(key)) return false;
    this.entryCount--;
    if (node.entries.size === 0) {
      this.filterCount--;
      this.prune(filter, path);
    }
    return true;
  }

  /** Calls `visit` for every entry whose filter matches `topic`. */
  match(topic: string, visit: TrieVisitor<V>): void {
    const exact = this.exact.get(topic);
    if (exact?.entries) visitAll(exact, visit);
    if (this.wildcardFilters === 0) return;
    // `$`-topics are not matched by wildcards at the first level [MQTT-4.7.2-1]
    const dollar = topic.charCodeAt(0) === 36;
    this.walk(this.root, topic, 0, visit, dollar, true);
  }

  /** Every filter with its entries (for listings and snapshots). */
  *all(): IterableIterator<[string, ReadonlyMap<string, V>]> {
    const stack: TrieNode<V>[] = [this.root];
    while (stack.length) {
      const n = stack.pop()!;
      if (n.entries && n.entries.size) yield [n.filter, n.entries];
      if (n.children) for (const c of n.children.values()) stack.push(c);
      if (n.plus) stack.push(n.plus);
      if (n.hash) stack.push(n.hash);
    }
  }

  private wildcardFilters = 0;

  /** `literal`: every level so far matched literally, so a filter ending here is an exact one (already visited). */
  private walk(node: TrieNode<V>, topic: string, start: number, visit: TrieVisitor<V>, dollar: boolean, literal: boolean): void {
    // '#' matches the parent level too ("a/#" matches "a")
    if (node.hash?.entries && !dollar) visitAll(node.hash, visit);
    const end = topic.indexOf('/', start);
    const last = end === -1;
    const level = last ? topic.slice(start) : topic.slice(start, end);
    if (node.plus && !dollar) {
      if (last) {
        if (node.plus.entries) visitAll(node.plus, visit);
        if (node.plus.hash?.entries) visitAll(node.plus.hash, visit);
      } else this.walk(node.plus, topic, end + 1, visit, false, false);
    }
    const child = node.children?.get(level);
    if (child) {
      if (last) {
        if (!literal && child.entries) visitAll(child, visit);
        if (child.hash?.entries) visitAll(child.hash, visit);
      } else this.walk(child, topic, end + 1, visit, false, literal);
    }
  }

  private nodeFor(filter: string, create: boolean, path?: TrieNode<V>[]): TrieNode<V> | undefined {
    const wild = filter.includes('+') || filter.includes('#');
    if (!wild && !path) {
      const hit = this.exact.get(filter);
      if (hit || !create) return hit;
    }
    let node = this.root;
    let start = 0;
    for (;;) {
      path?.push(node);
      const end = filter.indexOf('/', start);
      const level = end === -1 ? filter.slice(start) : filter.slice(start, end);
      let next: TrieNode<V> | undefined;
      if (level === '+') next = node.plus ??= create ? new TrieNode<V>() : undefined;
      else if (level === '#') next = node.hash ??= create ? new TrieNode<V>() : undefined;
      else {
        next = node.children?.get(level);
        if (!next && create) {
          next = new TrieNode<V>();
          (node.children ??= new Map()).set(level, next);
        }
      }
      if (!next) return undefined;
      node = next;
      if (end === -1) break;
      start = end + 1;
    }
    if (create && !node.entries) {
      if (wild) this.wildcardFilters++;
      else this.exact.set(filter, node);
    }
    return node;
  }

  /** Removes empty nodes on the way back to the root so the trie does not grow without bound. */
  private prune(filter: string, path: TrieNode<V>[]): void {
    const wild = filter.includes('+') || filter.includes('#');
    const levels = filter.split('/');
    let node = path[path.length - 1];
    const leaf = this.nodeAt(path, levels);
    if (leaf) {
      leaf.entries = undefined;
      if (wild) this.wildcardFilters--;
      else this.exact.delete(filter);
    }
    for (let i = levels.length - 1; i >= 0; i--) {
      const parent = path[i];
      node = i + 1 < path.length ? path[i + 1] : this.childOf(parent, levels[i])!;
      if (node.entries || node.children?.size || node.plus || node.hash) break;
      const level = levels[i];
      if (level === '+') parent.plus = undefined;
      else if (level === '#') parent.hash = undefined;
      else {
        parent.children!.delete(level);
        if (parent.children!.size === 0) parent.children = undefined;
      }
    }
  }

  private nodeAt(path: TrieNode<V>[], levels: string[]): TrieNode<V> | undefined {
    return this.childOf(path[path.length - 1], levels[levels.length - 1]);
  }

  private childOf(node: TrieNode<V>, level: string): TrieNode<V> | undefined {
    if (level === '+') return node.plus;
    if (level === '#') return node.hash;
    return node.children?.get(level);
  }
}

function visitAll<V>(node: TrieNode<V>, visit: TrieVisitor<V>): void {
  for (const [key, value] of node.entries!) visit(key, value, node.filter);
}
