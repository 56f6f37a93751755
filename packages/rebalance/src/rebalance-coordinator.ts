/**
 * Rebalancing, on the node it was started on (the coordinator; EMQX's
 * emqx_node_rebalance): it asks every node taking part for its counts, makes the nodes
 * above the mean donors (they fail availability_check at once, rebalance-agent.ts), waits
 * `wait_health_check` for load balancers to notice, then each second has every donor
 * above the mean shed connections at `conn_evict_rate` until the donors' average is within
 * the connection thresholds of the recipients'. The clients reconnect through the load
 * balancer to the recipients and take their sessions along (takeover). After
 * `wait_takeover` it does the same with offline sessions at `sess_evict_rate`, then lets
 * the donors take clients again. A node taking part that stops answering aborts it, as in
 * EMQX (rebalancing is ephemeral).
 */
import { averages, connsBalanced, needRebalance, sessionsBalanced, sheds, split, type Averages, type NodeCounts, type RebalanceOpts } from './rebalance-plan.js';

/** The coordinator's hands on the nodes taking part (rebalance-ops.ts: admin calls, or this node directly). */
export interface DonorControl {
  counts(node: string): Promise<NodeCounts>;
  /** `node` gives load away for `coordinator` (availability_check 503) until `disable`. */
  enable(node: string, coordinator: string, opts: RebalanceOpts): Promise<void>;
  disable(node: string, coordinator: string): Promise<void>;
  /** Disconnects up to `count` clients of `node` at `rate`/s (v5: DISCONNECT 0x9C); resolves with how many. */
  evictConns(node: string, coordinator: string, count: number, rate: number): Promise<number>;
  /** Hands up to `count` offline sessions of `node` to `recipients` at `rate`/s; resolves with how many. */
  evictSessions(node: string, coordinator: string, count: number, rate: number, recipients: string[]): Promise<number>;
}

export interface RebalanceLog {
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
  error(o: object, msg: string): void;
}

export type RebalanceState = 'wait_health_check' | 'evicting_conns' | 'wait_takeover' | 'evicting_sessions';

/** What global_status and `vireo ctl rebalance node-status` show for a coordinator (EMQX's fields). */
export interface CoordinatorStatus {
  state: RebalanceState;
  coordinator_node: string;
  donors: string[];
  recipients: string[];
  connection_eviction_rate: number;
  session_eviction_rate: number;
  /** The recipients' average connection count, once evicting. */
  connection_goal?: number;
  disconnected_session_goal?: number;
  donor_conn_avg?: number;
  donor_sess_avg?: number;
  /** Connections and sessions moved so far. */
  evicted_connections: number;
  evicted_sessions: number;
  started_at: string;
}

export type StartResult = { ok: true; status: CoordinatorStatus } | { ok: false; error: 'already_started' | 'nothing_to_balance' | 'node_unavailable'; message: string };

interface Run {
  opts: RebalanceOpts;
  status: CoordinatorStatus;
  timer: NodeJS.Timeout | undefined;
  /** Total connections at the start: the mean is taken over at least these (evicted clients are in flight). */
  initialConns: number;
  stopped: boolean;
}

export interface CoordinatorDeps {
  self: string;
  control: DonorControl;
  log: RebalanceLog;
  /** How often counts are read and evictions ordered while evicting (EMQX: 1 s). */
  roundMs?: number;
  /** Told of every change (metrics). */
  onChange?(status: CoordinatorStatus | undefined): void;
}

export class RebalanceCoordinator {
  private run: Run | undefined;
  private readonly roundMs: number;
  /** Rebalances that ran to the end, and that were stopped or aborted (metrics). */
  finished = 0;
  aborted = 0;

  constructor(private readonly d: CoordinatorDeps) {
    this.roundMs = d.roundMs ?? 1000;
  }

  status(): CoordinatorStatus | undefined {
    return this.run && { ...this.run.status };
  }

  async start(opts: RebalanceOpts): Promise<StartResult> {
    if (this.run) return { ok: false, error: 'already_started', message: 'a rebalance is already running on this node' };
    let counts: Map<string, NodeCounts>;
    try {
      counts = await this.countAll(opts.nodes);
    } catch (err) {
      return { ok: false, error: 'node_unavailable', message: String(err instanceof Error ? err.message : err) };
    }
    if (this.run) return { ok: false, error: 'already_started', message: 'a rebalance is already running on this node' };
    const s = split(counts);
    if (!needRebalance(s, counts, opts)) {
      this.d.log.info({ nodes: opts.nodes, counts: Object.fromEntries(counts) }, 'Rebalance not started: nothing to balance');
      return { ok: false, error: 'nothing_to_balance', message: 'the nodes are within the thresholds already' };
    }
    const status: CoordinatorStatus = {
      state: 'wait_health_check',
      coordinator_node: this.d.self,
      donors: s.donors,
      recipients: s.recipients,
      connection_eviction_rate: opts.conn_evict_rate,
      session_eviction_rate: opts.sess_evict_rate,
      evicted_connections: 0,
      evicted_sessions: 0,
      started_at: new Date().toISOString(),
    };
    const run: Run = { opts, status, timer: undefined, initialConns: sum(counts, 'connections'), stopped: false };
    this.run = run;
    try {
      await Promise.all(s.donors.map((n) => this.d.control.enable(n, this.d.self, opts)));
    } catch (err) {
      await this.abort(run, `a donor could not be enabled: ${String(err instanceof Error ? err.message : err)}`);
      return { ok: false, error: 'node_unavailable', message: String(err instanceof Error ? err.message : err) };
    }
    this.d.log.info(
      { donors: s.donors, recipients: s.recipients, conn_mean: s.connMean, counts: Object.fromEntries(counts), wait_health_check: opts.wait_health_check },
      'Rebalance started: donors give load away',
    );
    this.changed();
    run.timer = setTimeout(() => this.enter(run, 'evicting_conns'), opts.wait_health_check * 1000);
    run.timer.unref();
    return { ok: true, status: { ...status } };
  }

  /** Stops a running rebalance; false when none runs. */
  async stop(): Promise<boolean> {
    const run = this.run;
    if (!run) return false;
    this.d.log.info({ state: run.status.state, evicted_connections: run.status.evicted_connections }, 'Rebalance stopped');
    this.aborted++;
    await this.end(run);
    return true;
  }

  private enter(run: Run, state: RebalanceState): void {
    if (run.stopped) return;
    run.status.state = state;
    this.d.log.info({ state }, `Rebalance: ${state}`);
    this.changed();
    void this.round(run);
  }

  private async round(run: Run): Promise<void> {
    if (run.stopped) return;
    const { opts, status } = run;
    // a round's evictions take up to a second at the rate: the next round starts a second after this one did
    const began = Date.now();
    try {
      const counts = await this.countAll(opts.nodes);
      if (run.stopped) return;
      const a = averages(status, counts);
      this.record(status, a);
      if (status.state === 'evicting_conns') {
        if (connsBalanced(a, opts)) {
          this.d.log.info({ counts: Object.fromEntries(counts), ...a }, 'Rebalance: connections within the thresholds');
          run.status.state = 'wait_takeover';
          this.changed();
          run.timer = setTimeout(() => this.enter(run, 'evicting_sessions'), opts.wait_takeover * 1000);
          run.timer.unref();
          return;
        }
        // the mean the nodes would have; clients evicted a moment ago are not counted anywhere yet
        const goal = Math.max(sum(counts, 'connections'), run.initialConns) / opts.nodes.length;
        const plan = sheds(status.donors, counts, 'connections', goal, opts.conn_evict_rate);
        const done = await Promise.all([...plan].map(([n, k]) => this.d.control.evictConns(n, this.d.self, k, opts.conn_evict_rate)));
        status.evicted_connections += done.reduce((x, y) => x + y, 0);
      } else if (status.state === 'evicting_sessions') {
        if (sessionsBalanced(a, opts)) return await this.finish(run, counts);
        const goal = sum(counts, 'disconnected') / opts.nodes.length;
        const plan = sheds(status.donors, counts, 'disconnected', goal, opts.sess_evict_rate);
        if (plan.size === 0) return await this.finish(run, counts);
        const done = await Promise.all([...plan].map(([n, k]) => this.d.control.evictSessions(n, this.d.self, k, opts.sess_evict_rate, status.recipients)));
        const moved = done.reduce((x, y) => x + y, 0);
        status.evicted_sessions += moved;
        // nothing could move (no recipient took any): stop rather than spin
        if (moved === 0) return await this.finish(run, counts);
      }
      this.changed();
    } catch (err) {
      return void (await this.abort(run, String(err instanceof Error ? err.message : err)));
    }
    if (!run.stopped) {
      run.timer = setTimeout(() => void this.round(run), Math.max(0, this.roundMs - (Date.now() - began)));
      run.timer.unref();
    }
  }

  private record(status: CoordinatorStatus, a: Averages): void {
    if (status.state === 'evicting_conns') {
      status.connection_goal = a.recipientConnAvg;
      status.donor_conn_avg = a.donorConnAvg;
    } else {
      status.disconnected_session_goal = a.recipientSessAvg;
      status.donor_sess_avg = a.donorSessAvg;
    }
  }

  private async finish(run: Run, counts: Map<string, NodeCounts>): Promise<void> {
    this.d.log.info(
      { counts: Object.fromEntries(counts), evicted_connections: run.status.evicted_connections, evicted_sessions: run.status.evicted_sessions },
      'Rebalance finished: the nodes are within the thresholds',
    );
    this.finished++;
    await this.end(run);
  }

  private async abort(run: Run, reason: string): Promise<void> {
    if (run.stopped) return;
    this.d.log.error({ reason, state: run.status.state }, 'Rebalance aborted: a node taking part failed');
    this.aborted++;
    await this.end(run);
  }

  private async end(run: Run): Promise<void> {
    if (run.stopped) return;
    run.stopped = true;
    clearTimeout(run.timer);
    if (this.run === run) this.run = undefined;
    this.changed();
    // every donor takes clients again; one that is gone does so by itself (its agent watches the coordinator)
    await Promise.allSettled(run.status.donors.map((n) => this.d.control.disable(n, this.d.self)));
  }

  private changed(): void {
    this.d.onChange?.(this.status());
  }

  private async countAll(nodes: readonly string[]): Promise<Map<string, NodeCounts>> {
    const got = await Promise.all(
      nodes.map(async (n) => {
        try {
          return [n, await this.d.control.counts(n)] as const;
        } catch (err) {
          throw new Error(`${n}: ${String(err instanceof Error ? err.message : err)}`);
        }
      }),
    );
    return new Map(got);
  }
}

function sum(counts: ReadonlyMap<string, NodeCounts>, k: keyof NodeCounts): number {
  let t = 0;
  for (const c of counts.values()) t += c[k];
  return t;
}
