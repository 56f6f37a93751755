/**
 * Admin calls between nodes: the HTTP API of any node asks every node for its part of a
 * cluster-wide answer (clients, subscriptions, kick, stats, metrics, trace). A request
 * travels on the asking node's own ordered stream to the peer, the reply on the peer's
 * stream back, so both are covered by the cookie handshake those streams already passed.
 * Each call has a timeout and fails at once when the peer's link goes down: a slow or
 * dead node makes a partial answer, never a hang.
 */
import { AdminCallError, type AdminCallHandler } from '@vireo/broker';
import type { Logger } from 'pino';
import type { Frame } from './wire.js';

interface Pending {
  node: string;
  op: string;
  timer: NodeJS.Timeout;
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export interface AdminRpcOptions {
  self: string;
  logger: Logger;
  timeoutMs: number;
  /** Queues a frame to `node` on this node's stream to it. */
  send(node: string, frame: Frame): void;
  /** The node is running (both streams up). */
  isUp(node: string): boolean;
}

export class AdminRpc {
  private handler: AdminCallHandler | undefined;
  private readonly pending = new Map<number, Pending>();
  private seq = 0;

  constructor(private readonly o: AdminRpcOptions) {}

  serve(handler: AdminCallHandler): void {
    this.handler = handler;
  }

  call(node: string, op: string, args: unknown): Promise<unknown> {
    if (node === this.o.self) return this.local(op, args);
    if (!this.o.isUp(node)) return Promise.reject(new AdminCallError(node, 'not_running', `node ${node} is not running`));
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.o.logger.warn({ peer_node: node, op, timeout_ms: this.o.timeoutMs }, 'Cluster admin call timed out');
        reject(new AdminCallError(node, 'timeout', `node ${node} did not answer within ${this.o.timeoutMs} ms`));
      }, this.o.timeoutMs);
      this.pending.set(id, { node, op, timer, resolve, reject });
      this.o.send(node, { admin_request: { id, op, args: Buffer.from(JSON.stringify(args ?? null)) } });
    });
  }

  /** A peer asks: run the handler, answer on our stream to it. */
  onRequest(node: string, req: NonNullable<Frame['admin_request']>): void {
    let args: unknown;
    try {
      args = JSON.parse(req.args.toString('utf8'));
    } catch {
      this.o.send(node, { admin_reply: { id: req.id, ok: false, result: Buffer.alloc(0), error: 'arguments are not JSON' } });
      return;
    }
    this.local(req.op, args).then(
      (result) => this.o.send(node, { admin_reply: { id: req.id, ok: true, result: Buffer.from(JSON.stringify(result ?? null)), error: '' } }),
      (err: unknown) => this.o.send(node, { admin_reply: { id: req.id, ok: false, result: Buffer.alloc(0), error: err instanceof Error ? err.message : String(err) } }),
    );
  }

  onReply(node: string, rep: NonNullable<Frame['admin_reply']>): void {
    const p = this.pending.get(rep.id);
    if (!p || p.node !== node) return;
    this.pending.delete(rep.id);
    clearTimeout(p.timer);
    if (!rep.ok) {
      p.reject(new AdminCallError(node, 'failed', `node ${node}: ${rep.error}`));
      return;
    }
    try {
      p.resolve(JSON.parse(rep.result.toString('utf8')));
    } catch {
      p.reject(new AdminCallError(node, 'failed', `node ${node} answered with bad JSON`));
    }
  }

  /** The link to `node` went down: its calls fail now rather than at their timeout. */
  nodeDown(node: string, reason: string): void {
    for (const [id, p] of this.pending) {
      if (p.node !== node) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new AdminCallError(node, 'not_running', `node ${node} went away (${reason})`));
    }
  }

  close(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new AdminCallError(p.node, 'not_running', 'this node is stopping'));
    }
    this.pending.clear();
  }

  private async local(op: string, args: unknown): Promise<unknown> {
    if (!this.handler) throw new AdminCallError(this.o.self, 'failed', `node ${this.o.self} has no admin API`);
    return this.handler(op, args);
  }
}
