/**
 * A takeover's stand-in queue (`takeover_rest`) delivered for sure (peer protocol 4). The
 * messages in it exist nowhere else: if the link drops between the end of the stand-in and
 * the frame's write (or the write reaches a socket that then dies), they would be lost. So
 * the old node numbers each one, keeps it until the new node acknowledges it
 * (`takeover_rest_ack`), and sends it again when the link comes back and every RETRY_MS
 * meanwhile; the new node applies each number once and acknowledges every copy. A push
 * (evacuation) counts as done only with the acknowledgement. On a protocol 2/3 link the
 * frame goes once, unnumbered, as those releases expect.
 */
import type { Logger } from 'pino';
import type { Frame } from './wire.js';

/** The first peer protocol that numbers and acknowledges `takeover_rest`. */
export const REST_ACK_PROTOCOL = 4;
/** An unacknowledged stand-in queue goes again this often while the link is up. */
const RETRY_MS = 2000;
/**
 * How long the old node keeps one without an acknowledgement. Past the new node's hold-back
 * (20 s, cm/takeover.ts in the broker) it is still applied there, so this is longer.
 */
const KEEP_MS = 60_000;
/** How long the new node remembers a number it applied (a copy sent again is skipped). */
const APPLIED_MS = 2 * KEEP_MS;

export type TakeoverRestAckBody = NonNullable<Frame['takeover_rest_ack']>;

interface Unacked {
  node: string;
  frame: Frame & { takeover_rest: NonNullable<Frame['takeover_rest']> };
  firstAt: number;
  sentAt: number;
  queued: number;
  done?: (acked: boolean) => void;
}

export interface RestDeps {
  readonly log: Logger;
  send(node: string, frame: Frame): void;
  linked(node: string): boolean;
  /** The protocol of our link to `node`, when up (a node that came back as an earlier release sends no acknowledgement). */
  protocolOf?(node: string): number | undefined;
  /** Overrides for tests. */
  readonly retryMs?: number;
  readonly keepMs?: number;
}

export class RestDelivery {
  private seq = 0;
  private readonly unacked = new Map<number, Unacked>();
  /** On the new node: `node\0id` → when applied, oldest first. */
  private readonly applied = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: RestDeps) {}

  /** Old node: sends the stand-in queue of `clientid` to `node`, numbered, kept until acknowledged. */
  send(node: string, clientid: string, deliveries: Buffer, queued: number, done?: (acked: boolean) => void): void {
    const id = ++this.seq;
    const now = Date.now();
    const u: Unacked = { node, frame: { takeover_rest: { clientid, deliveries, id } }, firstAt: now, sentAt: now, queued, done };
    this.unacked.set(id, u);
    this.deps.send(node, u.frame);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.deps.retryMs ?? RETRY_MS);
      this.timer.unref();
    }
  }

  /** Old node: `node` applied stand-in queue `id`. */
  onAck(node: string, body: TakeoverRestAckBody): void {
    const u = this.unacked.get(body.id);
    if (!u || u.node !== node) return;
    this.unacked.delete(body.id);
    this.idle();
    u.done?.(true);
  }

  /** Old node: our link to `node` is up again: what it had not acknowledged goes first. */
  linkUp(node: string): void {
    const now = Date.now();
    // the link came back to an earlier release (the stand-in ended while it was down): it gets
    // the queue once and acknowledges nothing, so nothing is sent again
    const once = (this.deps.protocolOf?.(node) ?? REST_ACK_PROTOCOL) < REST_ACK_PROTOCOL;
    let n = 0;
    for (const [id, u] of this.unacked) {
      if (u.node !== node) continue;
      u.sentAt = now;
      this.deps.send(node, u.frame);
      n++;
      if (once) {
        this.unacked.delete(id);
        u.done?.(true);
      }
    }
    if (once) this.idle();
    if (n > 0) this.deps.log.info({ peer_node: node, queues: n }, 'Unacknowledged takeover queues sent again to cluster node');
  }

  /** New node: whether stand-in queue `id` from `node` is new here; acknowledges it either way. */
  accept(node: string, clientid: string, id: number): boolean {
    this.deps.send(node, { takeover_rest_ack: { clientid, id } });
    const now = Date.now();
    for (const [k, at] of this.applied) {
      if (now - at < APPLIED_MS) break;
      this.applied.delete(k);
    }
    const key = `${node}\u0000${id}`;
    if (this.applied.has(key)) return false;
    this.applied.set(key, now);
    return true;
  }

  /** How many stand-in queues wait for an acknowledgement (tests, logs). */
  get pending(): number {
    return this.unacked.size;
  }

  /** The node stops: nothing more is sent again; pushes still waiting are settled as sent. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const waiting = [...this.unacked.values()];
    this.unacked.clear();
    for (const u of waiting) u.done?.(false);
  }

  private tick(): void {
    const now = Date.now();
    const retry = this.deps.retryMs ?? RETRY_MS;
    for (const [id, u] of this.unacked) {
      if (now - u.firstAt > (this.deps.keepMs ?? KEEP_MS)) {
        this.unacked.delete(id);
        this.deps.log.error(
          { clientid: u.frame.takeover_rest.clientid, peer_node: u.node, queued: u.queued },
          'Takeover queue not acknowledged by the new node in time: its messages may be lost',
        );
        u.done?.(false);
      } else if (now - u.sentAt >= retry && this.deps.linked(u.node)) {
        // the link stayed up but an acknowledgement is missing (ours, or theirs on their own link, dropped)
        u.sentAt = now;
        this.deps.send(u.node, u.frame);
      }
    }
    this.idle();
  }

  private idle(): void {
    if (this.unacked.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
