/**
 * This node's side of EMQX's load_rebalance: one object the server wires into the HTTP API
 * (`AdminOptions.loadRebalance`, `givingLoadAway`) and into SIGTERM handling. Evacuation is
 * here; rebalancing plugs in beside it with the same primitives (node-load.ts,
 * connection-evictor.ts).
 */
import type { Broker } from '@vireo/broker';
import { Evacuation, EVACUATION_DEFAULTS, type EvacuationOptions, type EvacuationStatus, type EvacuationTotals } from './evacuation.js';
import { NodeLoad } from './node-load.js';
import { recipients } from './session-pusher.js';
import type { EvacuationFile } from './evacuation-file.js';

/** A request the node cannot carry out now (the API answers 400 with it). */
export class RebalanceError extends Error {
  constructor(
    readonly code: 'BAD_REQUEST' | 'NOT_FOUND',
    message: string,
  ) {
    super(message);
    this.name = 'RebalanceError';
  }
}

/** EMQX's answer for one node (`GET /api/v5/load_rebalance/status`). */
export type NodeRebalanceStatus = { node: string; status: 'disabled' } | ({ status: 'enabled'; process: 'evacuation' } & EvacuationStatus);

export class LoadRebalance {
  readonly load: NodeLoad;
  /** Counts over every evacuation of this node (`vireo_evacuation_*_total`). */
  readonly totals: EvacuationTotals = { evictedConnections: 0, pushedSessions: 0, failedSessions: 0 };
  private evacuation: Evacuation | undefined;

  constructor(
    private readonly broker: Broker,
    /** Where an evacuation started through the API is kept across restarts; none: not kept. */
    private readonly file?: EvacuationFile,
  ) {
    this.load = new NodeLoad(broker);
  }

  get givingLoadAway(): boolean {
    return this.load.givingLoadAway;
  }

  /** Starts an evacuation of this node; EMQX's defaults fill what `options` leaves out. */
  startEvacuation(options: Partial<EvacuationOptions> = {}): EvacuationStatus {
    if (this.evacuation && !this.evacuation.stopped) throw new RebalanceError('BAD_REQUEST', 'Evacuation already started on this node');
    const o: EvacuationOptions = { ...EVACUATION_DEFAULTS, ...options };
    const self = this.broker.options.nodeName;
    if (o.migrate_to?.includes(self)) throw new RebalanceError('BAD_REQUEST', `migrate_to names the evacuated node itself (${self})`);
    const running = this.broker.cluster.nodes();
    const unknown = (o.migrate_to ?? []).filter((n) => !running.includes(n));
    if (unknown.length > 0) throw new RebalanceError('BAD_REQUEST', `migrate_to: not running nodes: ${unknown.join(', ')}`);
    this.evacuation = new Evacuation(this.broker, this.load, o, this.totals);
    this.file?.save(o);
    return this.evacuation.status();
  }

  /**
   * At start: an evacuation kept from before a restart starts again, from the beginning
   * (its `migrate_to` is not checked against the running nodes: they may not be known yet).
   * Undefined when none was kept.
   */
  resumeKept(): EvacuationStatus | undefined {
    const o = this.file?.load();
    if (!o) return undefined;
    this.evacuation = new Evacuation(this.broker, this.load, o, this.totals);
    return this.evacuation.status();
  }

  /** False when no evacuation runs. */
  stopEvacuation(): boolean {
    const e = this.evacuation;
    if (!e || e.stopped) return false;
    e.stop();
    this.evacuation = undefined;
    this.file?.clear();
    return true;
  }

  /** The running evacuation (or the finished one still holding the node), if any. */
  evacuationStatus(): EvacuationStatus | undefined {
    const e = this.evacuation;
    return e && !e.stopped ? e.status() : undefined;
  }

  status(): NodeRebalanceStatus {
    const e = this.evacuationStatus();
    return e ? { status: 'enabled', process: 'evacuation', ...e } : { node: this.broker.options.nodeName, status: 'disabled' };
  }

  /**
   * SIGTERM with `node.evacuate_on_shutdown`: evacuates (or lets a running evacuation go on)
   * until it is done, then resolves; the caller stops the node. Resolves at once when no
   * other node runs (there is nowhere to go).
   */
  async evacuateForShutdown(options: EvacuationOptions): Promise<'done' | 'alone'> {
    if (!this.evacuation || this.evacuation.stopped) {
      if (recipients(this.broker, options.migrate_to).length === 0) {
        this.broker.logger.warn('Evacuation on shutdown skipped: no other running node to take the clients and sessions');
        return 'alone';
      }
      this.evacuation = new Evacuation(this.broker, this.load, options, this.totals);
    }
    const e = this.evacuation;
    while (!e.stopped && e.state !== 'prohibiting') await Promise.race([e.done, new Promise((r) => setTimeout(r, 100))]);
    return 'done';
  }
}
