/**
 * Cluster-wide answers for the HTTP API: asks every running node (this one included) for
 * its part through the cluster link's admin calls and puts the parts together — gathered
 * lists, pages across nodes, the one node that holds a client. A node that fails or does
 * not answer within `cluster.rpc.call_receive_timeout` is left out and reported in
 * `errors`: the answer is partial, never late.
 */
import type { FastifyReply } from 'fastify';
import { AdminCallError, type AdminCallHandler, type Broker } from '@vireo/broker';
import type { Page, PageQuery } from './paging.js';
import { notFound } from './errors.js';

/** A node that is missing from an answer, and why. */
export interface NodeError {
  node: string;
  /** `timeout`, `not_running` or `failed`. */
  reason: string;
  message: string;
}

export interface Gathered<T> {
  parts: { node: string; value: T }[];
  errors: NodeError[];
}

/** One node's part of a paged list: how many of its items match, and the slice asked for. */
export interface NodeSlice<T> {
  count: number;
  data: T[];
}

/** What a paged op receives: the filters, and which slice of this node's matches to return. */
export interface SliceArgs<F> {
  filters: F;
  offset: number;
  limit: number;
}

export type ClusterPage<T> = Page<T> & { meta: Page<T>['meta'] & { errors?: NodeError[] } };

/**
 * Above this `limit` even page 1 takes two rounds: with one round every node would send a
 * whole page of which the asking node keeps only `limit` items in all.
 */
const ONE_ROUND_LIMIT = 1000;

export class ClusterQuery {
  constructor(
    private readonly broker: Broker,
    /** This node's own answers (also what the link serves to peers). */
    private readonly local: AdminCallHandler,
  ) {}

  get self(): string {
    return this.broker.options.nodeName;
  }

  /** Running nodes, sorted: the order of cluster-wide lists, the same from every node. */
  nodes(): string[] {
    return this.broker.cluster.nodes();
  }

  /** What a `node` query parameter selects: every running node, that one, or undefined when it is not running. */
  select(node: string | undefined): string[] | undefined {
    const nodes = this.nodes();
    if (node === undefined) return nodes;
    return nodes.includes(node) ? [node] : undefined;
  }

  async call<T>(node: string, op: string, args: unknown): Promise<T> {
    if (node === this.self) return (await this.local(op, args)) as T;
    const link = this.broker.cluster;
    if (!link.callNode) throw new AdminCallError(node, 'not_running', `node ${node} is not running`);
    return (await link.callNode(node, op, args)) as T;
  }

  /** Asks each of `nodes` (default: all running) at once; parts come back in node order. */
  async gather<T>(op: string, args: unknown, nodes: string[] = this.nodes()): Promise<Gathered<T>> {
    const settled = await Promise.allSettled(nodes.map((n) => this.call<T>(n, op, args)));
    const out: Gathered<T> = { parts: [], errors: [] };
    settled.forEach((r, i) => {
      const node = nodes[i]!;
      if (r.status === 'fulfilled') out.parts.push({ node, value: r.value });
      else out.errors.push(nodeError(node, r.reason));
    });
    return out;
  }

  /**
   * A page of a list spread over nodes, in node order (all of the first node's matches,
   * then the next node's …), so `page`/`limit` mean the same from any node. Page 1 takes
   * one round (each node returns its count and its first `limit` items); later pages and
   * large limits ask for counts first, then only the nodes the page covers for their slice.
   */
  async page<T, F>(op: string, filters: F, q: PageQuery, nodes: string[] = this.nodes()): Promise<ClusterPage<T>> {
    const page = q.page ?? 1;
    const limit = q.limit ?? 100;
    const start = (page - 1) * limit;
    const oneRound = start === 0 && limit <= ONE_ROUND_LIMIT;
    const first = await this.gather<NodeSlice<T>>(op, { filters, offset: 0, limit: oneRound ? limit : 0 } satisfies SliceArgs<F>, nodes);
    const errors = first.errors;
    let count = 0;
    for (const p of first.parts) count += p.value.count;
    let data: T[] = [];
    if (oneRound) {
      for (const p of first.parts) {
        if (data.length >= limit) break;
        data.push(...p.value.data.slice(0, limit - data.length));
      }
    } else {
      // which part of each node's matches falls inside [start, start + limit)
      const asks: { node: string; offset: number; limit: number }[] = [];
      let before = 0;
      for (const p of first.parts) {
        const from = Math.max(start - before, 0);
        const to = Math.min(start + limit - before, p.value.count);
        if (to > from) asks.push({ node: p.node, offset: from, limit: to - from });
        before += p.value.count;
      }
      const slices = await Promise.allSettled(asks.map((a) => this.call<NodeSlice<T>>(a.node, op, { filters, offset: a.offset, limit: a.limit } satisfies SliceArgs<F>)));
      slices.forEach((r, i) => {
        if (r.status === 'fulfilled') data.push(...r.value.data);
        else errors.push(nodeError(asks[i]!.node, r.reason));
      });
      data = data.slice(0, limit);
    }
    const meta: ClusterPage<T>['meta'] = { page, limit, count, hasnext: start + data.length < count };
    if (errors.length > 0) meta.errors = errors;
    return { data, meta };
  }

  /**
   * The answer of the node that has it (op answers null elsewhere): this node first, so a
   * local client costs no round trip, then every other node at once.
   */
  async find<T>(op: string, args: unknown): Promise<{ node: string; value: T } | { node: undefined; errors: NodeError[] }> {
    const mine = await this.call<T | null>(this.self, op, args);
    if (mine !== null) return { node: this.self, value: mine };
    const others = this.nodes().filter((n) => n !== this.self);
    const got = await this.gather<T | null>(op, args, others);
    const hit = got.parts.find((p) => p.value !== null);
    if (hit) return { node: hit.node, value: hit.value as T };
    return { node: undefined, errors: got.errors };
  }
}

export function nodeError(node: string, err: unknown): NodeError {
  if (err instanceof AdminCallError) return { node, reason: err.reason, message: err.message };
  return { node, reason: 'failed', message: err instanceof Error ? err.message : String(err) };
}

/** Names the nodes an answer left out in a header, for answers whose body has no room for it. */
/**
 * A route's paged cluster-wide answer: `node`, when given, narrows the nodes asked (404 for
 * one that is not running), and a page some node did not answer for is marked partial.
 */
export async function answerPage<T, F>(q: ClusterQuery, reply: FastifyReply, op: string, filters: F, query: PageQuery & { node?: string }): Promise<ClusterPage<T> | FastifyReply> {
  const nodes = q.select(query.node);
  if (!nodes) return notFound(reply, 'NOT_FOUND', `node ${query.node} is not a running node of the cluster`);
  const r = await q.page<T, F>(op, filters, { page: query.page, limit: query.limit }, nodes);
  markPartial(reply, r.meta.errors ?? []);
  return r;
}

export function markPartial(reply: FastifyReply, errors: NodeError[]): void {
  if (errors.length > 0) reply.header('x-vireo-partial', errors.map((e) => `${e.node}=${e.reason}`).join(', '));
}

/** Takes items [offset, offset + limit) of the matches of `keep`, and counts all matches. */
export function slice<T>(items: Iterable<T>, args: SliceArgs<unknown>, keep: (item: T) => boolean): NodeSlice<T> {
  const data: T[] = [];
  let count = 0;
  for (const item of items) {
    if (!keep(item)) continue;
    if (count >= args.offset && data.length < args.limit) data.push(item);
    count++;
  }
  return { count, data };
}
