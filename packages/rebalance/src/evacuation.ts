/**
 * Node evacuation (EMQX's `rebalance start --evacuation`), in EMQX's order:
 *
 * 1. `waiting_health_check`: the node gives load away at once (availability_check 503, so
 *    load balancers and the readiness probe stop sending clients) and waits `wait_health_check`.
 * 2. `evicting_conns`: new CONNECTs are refused (CONNACK 0x9C, Server Reference when
 *    `redirect_to` is set) and connected clients are disconnected at `conn_evict_rate`
 *    (v5: DISCONNECT 0x9C); they reconnect elsewhere and take their sessions over.
 * 3. `waiting_takeover`: up to `wait_takeover` for that, ending early once no persistent
 *    session is left here.
 * 4. `evicting_sessions`: every persistent session still here is pushed to a running node
 *    (`migrate_to`, or all; the emptiest first) at `sess_evict_rate` (session-pusher.ts).
 * 5. `prohibiting`: done; the node keeps refusing clients until the evacuation is stopped or
 *    the node stops.
 */
import type { Broker } from '@vireo/broker';
import { evictConnections, sleep } from './connection-evictor.js';
import type { NodeLoad } from './node-load.js';
import { movableSessions, pushSessions, recipients } from './session-pusher.js';

export type EvacuationState = 'waiting_health_check' | 'evicting_conns' | 'waiting_takeover' | 'evicting_sessions' | 'prohibiting';
export const EVACUATION_STATES: readonly EvacuationState[] = ['waiting_health_check', 'evicting_conns', 'waiting_takeover', 'evicting_sessions', 'prohibiting'];

/** EMQX's evacuation parameters (seconds, per second); see the API's body fields of the same names. */
export interface EvacuationOptions {
  wait_health_check: number;
  conn_evict_rate: number;
  sess_evict_rate: number;
  wait_takeover: number;
  /** MQTT 5 Server Reference (e.g. `"lb.example.com:1883"`, several separated by spaces). */
  redirect_to?: string;
  /** Nodes that may receive the sessions; empty or absent: every running node. */
  migrate_to?: string[];
}

/** EMQX's defaults for the API and `vireo ctl` (the SIGTERM evacuation has its own, `node.evacuation.*`). */
export const EVACUATION_DEFAULTS: EvacuationOptions = { wait_health_check: 60, conn_evict_rate: 500, sess_evict_rate: 500, wait_takeover: 60 };

/** EMQX's shape for one evacuating node (`GET /api/v5/load_rebalance/global_status`). */
export interface EvacuationStatus {
  node: string;
  state: EvacuationState;
  connection_eviction_rate: number;
  session_eviction_rate: number;
  connection_goal: 0;
  session_goal: 0;
  session_recipients: string[];
  stats: { initial_connected: number; current_connected: number; initial_sessions: number; current_sessions: number };
  /** Vireo: what was done so far. */
  evicted_connections: number;
  pushed_sessions: number;
  failed_sessions: number;
  started_at: string;
}

/** How often a session that could not be pushed is tried again (another node may take it). */
const PUSH_ROUNDS = 3;

/** Counts over every evacuation of this node (the metrics' counters). */
export interface EvacuationTotals {
  evictedConnections: number;
  pushedSessions: number;
  failedSessions: number;
}

export class Evacuation {
  state: EvacuationState = 'waiting_health_check';
  readonly startedAt = Date.now();
  evictedConnections = 0;
  pushedSessions = 0;
  failedSessions = 0;
  private readonly initialConnected: number;
  private readonly initialSessions: number;
  private readonly abort = new AbortController();
  /** Resolves when the evacuation reached `prohibiting` or was stopped. */
  readonly done: Promise<void>;

  constructor(
    private readonly broker: Broker,
    private readonly load: NodeLoad,
    readonly options: EvacuationOptions,
    private readonly totals: EvacuationTotals = { evictedConnections: 0, pushedSessions: 0, failedSessions: 0 },
  ) {
    this.initialConnected = broker.connectionCount;
    this.initialSessions = movableSessions(broker).length;
    this.done = this.run().catch((err: unknown) => {
      broker.logger.error({ err }, 'Evacuation failed');
    });
  }

  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  /** Stops it: the node takes clients again (what moved stays moved). */
  stop(): void {
    if (this.stopped) return;
    this.abort.abort();
    this.load.release('evacuation');
    this.broker.logger.info({ state: this.state }, 'Evacuation stopped');
  }

  status(): EvacuationStatus {
    const o = this.options;
    return {
      node: this.broker.options.nodeName,
      state: this.state,
      connection_eviction_rate: o.conn_evict_rate,
      session_eviction_rate: o.sess_evict_rate,
      connection_goal: 0,
      session_goal: 0,
      session_recipients: recipients(this.broker, o.migrate_to),
      stats: {
        initial_connected: this.initialConnected,
        current_connected: this.broker.connectionCount,
        initial_sessions: this.initialSessions,
        current_sessions: movableSessions(this.broker).length,
      },
      evicted_connections: this.evictedConnections,
      pushed_sessions: this.pushedSessions,
      failed_sessions: this.failedSessions,
      started_at: new Date(this.startedAt).toISOString(),
    };
  }

  private counted(pushed: boolean): void {
    if (pushed) {
      this.pushedSessions++;
      this.totals.pushedSessions++;
    } else {
      this.failedSessions++;
      this.totals.failedSessions++;
    }
  }

  private enter(state: EvacuationState, fields: Record<string, unknown> = {}): void {
    this.state = state;
    this.broker.logger.info({ state, connections: this.broker.connectionCount, sessions: movableSessions(this.broker).length, ...fields }, `Evacuation: ${state}`);
  }

  private async run(): Promise<void> {
    const { broker, load, options: o } = this;
    const signal = this.abort.signal;
    load.giveAway('evacuation');
    this.enter('waiting_health_check', { wait_health_check: o.wait_health_check, redirect_to: o.redirect_to, migrate_to: o.migrate_to });
    await sleep(o.wait_health_check * 1000, signal);
    if (signal.aborted) return;

    load.refuseConnects('evacuation', o.redirect_to || undefined);
    this.enter('evicting_conns', { conn_evict_rate: o.conn_evict_rate });
    await evictConnections(broker, {
      rate: o.conn_evict_rate,
      serverReference: o.redirect_to || undefined,
      signal,
      onEvicted: () => {
        this.evictedConnections++;
        this.totals.evictedConnections++;
      },
    });
    if (signal.aborted) return;

    this.enter('waiting_takeover', { wait_takeover: o.wait_takeover });
    const until = Date.now() + o.wait_takeover * 1000;
    while (!signal.aborted && Date.now() < until && movableSessions(broker).length > 0) await sleep(Math.min(200, until - Date.now()), signal);
    if (signal.aborted) return;

    this.enter('evicting_sessions', { sess_evict_rate: o.sess_evict_rate, recipients: recipients(broker, o.migrate_to) });
    for (let round = 0; round < PUSH_ROUNDS && !signal.aborted && movableSessions(broker).length > 0; round++) {
      if (round > 0) await sleep(1000, signal);
      const r = await pushSessions(broker, { rate: o.sess_evict_rate, targets: o.migrate_to, signal, onPushed: (_id, node) => this.counted(node !== undefined) });
      if (r.pushed === 0 && r.failed === 0) break;
    }
    if (signal.aborted) return;
    const left = movableSessions(broker).length;
    this.enter('prohibiting', {
      evicted_connections: this.evictedConnections,
      pushed_sessions: this.pushedSessions,
      failed_sessions: this.failedSessions,
      sessions_left: left,
      ms: Date.now() - this.startedAt,
    });
    if (left > 0) broker.logger.warn({ sessions_left: left }, 'Evacuation finished with sessions that could not be moved');
  }
}
