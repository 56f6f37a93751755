/**
 * Rebalancing on a donor node (EMQX's eviction agent, as the coordinator drives it,
 * rebalance-coordinator.ts): while enabled the node gives load away (availability_check
 * 503, node-load.ts); once the coordinator starts evicting, new CONNECTs are refused with
 * CONNACK 0x9C too (EMQX's `allow_connections => false`), so an evicted client that comes
 * straight back is sent on; connections go at the rate the coordinator asks
 * (connection-evictor.ts). If the coordinator stops running, the node takes clients again
 * by itself: nobody would ever tell it to.
 */
import type { Broker } from '@vireo/broker';
import { evictConnections } from './connection-evictor.js';
import type { NodeLoad } from './node-load.js';
import type { RebalanceLog } from './rebalance-coordinator.js';
import type { NodeCounts, RebalanceOpts } from './rebalance-plan.js';

const OWNER = 'rebalance';

/** What `vireo ctl rebalance node-status` shows on a donor (EMQX's fields). */
export interface DonorStatus {
  state: 'donor';
  coordinator_node: string;
  connection_eviction_rate: number;
  session_eviction_rate: number;
  stats: { initial_connected: number; initial_sessions: number; current_connected: number; current_sessions: number; current_disconnected_sessions: number };
  evicted_connections: number;
  evicted_sessions: number;
}

export interface AgentDeps {
  broker: Parameters<typeof evictConnections>[0] & { readonly connectionCount: number; readonly sessionCount: number; readonly cluster: Pick<Broker['cluster'], 'nodes'> };
  load: NodeLoad;
  log: RebalanceLog;
  /** Hands up to `count` offline sessions to `recipients` at `rate`/s (evacuation's session pusher); absent: none move. */
  pushSessions?(count: number, rate: number, recipients: string[], signal: AbortSignal): Promise<number>;
  /** How often the agent checks that its coordinator still runs. */
  watchMs?: number;
}

interface Enabled {
  coordinator: string;
  opts: RebalanceOpts;
  initial: NodeCounts;
  abort: AbortController;
  watch: NodeJS.Timeout;
  evictedConns: number;
  evictedSessions: number;
}

export class RebalanceAgent {
  private on: Enabled | undefined;
  /** Moved as a donor since start (metrics). */
  readonly totals = { evictedConnections: 0, evictedSessions: 0 };

  constructor(private readonly d: AgentDeps) {}

  counts(): NodeCounts {
    const b = this.d.broker;
    const connections = b.connectionCount;
    const sessions = b.sessionCount;
    return { connections, sessions, disconnected: Math.max(0, sessions - connections) };
  }

  get enabled(): boolean {
    return this.on !== undefined;
  }

  enable(coordinator: string, opts: RebalanceOpts): void {
    if (this.on) {
      if (this.on.coordinator === coordinator) return;
      throw new Error(`already a donor for the rebalance coordinated by ${this.on.coordinator}`);
    }
    this.d.load.giveAway(OWNER);
    const watch = setInterval(() => {
      if (this.on && !this.d.broker.cluster.nodes().includes(this.on.coordinator)) {
        this.d.log.warn({ coordinator_node: this.on.coordinator }, 'Rebalance coordinator is not running any more: this node takes clients again');
        this.disable(this.on.coordinator);
      }
    }, this.d.watchMs ?? 1000);
    watch.unref();
    this.on = { coordinator, opts, initial: this.counts(), abort: new AbortController(), watch, evictedConns: 0, evictedSessions: 0 };
    this.d.log.info({ coordinator_node: coordinator, ...this.on.initial }, 'Rebalance: this node is a donor, giving load away (availability_check answers 503)');
  }

  /** Ends this node's part; false when it was not a donor of `coordinator`. */
  disable(coordinator: string): boolean {
    const on = this.on;
    if (!on || on.coordinator !== coordinator) return false;
    this.on = undefined;
    on.abort.abort();
    clearInterval(on.watch);
    this.d.load.release(OWNER);
    this.d.log.info({ coordinator_node: coordinator, evicted_connections: on.evictedConns, evicted_sessions: on.evictedSessions }, 'Rebalance: this node takes clients again');
    return true;
  }

  async evictConns(coordinator: string, count: number, rate: number): Promise<number> {
    const on = this.mine(coordinator);
    // from the first eviction on, a client that comes straight back is refused (0x9C) and tries elsewhere
    this.d.load.refuseConnects(OWNER);
    const n = await evictConnections(this.d.broker, { rate, count, signal: on.abort.signal });
    on.evictedConns += n;
    this.totals.evictedConnections += n;
    return n;
  }

  async evictSessions(coordinator: string, count: number, rate: number, recipients: string[]): Promise<number> {
    const on = this.mine(coordinator);
    if (!this.d.pushSessions) return 0;
    const n = await this.d.pushSessions(count, rate, recipients, on.abort.signal);
    on.evictedSessions += n;
    this.totals.evictedSessions += n;
    return n;
  }

  status(): DonorStatus | undefined {
    const on = this.on;
    if (!on) return undefined;
    const now = this.counts();
    return {
      state: 'donor',
      coordinator_node: on.coordinator,
      connection_eviction_rate: on.opts.conn_evict_rate,
      session_eviction_rate: on.opts.sess_evict_rate,
      stats: {
        initial_connected: on.initial.connections,
        initial_sessions: on.initial.sessions,
        current_connected: now.connections,
        current_sessions: now.sessions,
        current_disconnected_sessions: now.disconnected,
      },
      evicted_connections: on.evictedConns,
      evicted_sessions: on.evictedSessions,
    };
  }

  close(): void {
    if (this.on) this.disable(this.on.coordinator);
  }

  private mine(coordinator: string): Enabled {
    const on = this.on;
    if (!on || on.coordinator !== coordinator) throw new Error(`not a donor of the rebalance coordinated by ${coordinator}`);
    return on;
  }
}
