/**
 * Rebalancing on this node (@vireo/rebalance): the donor agent, the coordinator, the admin
 * operations that join them across nodes, the HTTP API's part, and `cluster.rebalance.auto`
 * (a node that joins a cluster starts one). `cluster.rebalance.*` are the defaults of every
 * rebalance this node coordinates.
 */
import type { Broker } from '@vireo/broker';
import type { AdminOptions } from '@vireo/admin';
import {
  movableSessions,
  pushSessions,
  REBALANCE_OP_SCHEMAS,
  RebalanceAgent,
  RebalanceCoordinator,
  donorControl,
  rebalanceOps,
  rebalanceStartApiProps,
  type NodeCall,
  type NodeLoad,
  type RebalanceOpts,
} from '@vireo/rebalance';
import type { Logger } from 'pino';
import type { VireoConfig } from './config-schema.js';

export interface RebalanceParts {
  agent: RebalanceAgent;
  coordinator: RebalanceCoordinator;
  admin: NonNullable<AdminOptions['rebalance']>;
  close(): void;
}

/** `cluster.rebalance.*` in the API's units (seconds, per second), without `nodes`. */
export function rebalanceDefaults(config: VireoConfig): Omit<RebalanceOpts, 'nodes'> {
  const r = config.cluster.rebalance;
  return {
    wait_health_check: r.wait_health_check / 1000,
    conn_evict_rate: r.conn_evict_rate,
    sess_evict_rate: r.sess_evict_rate,
    abs_conn_threshold: r.abs_conn_threshold,
    rel_conn_threshold: r.rel_conn_threshold,
    abs_sess_threshold: r.abs_sess_threshold,
    rel_sess_threshold: r.rel_sess_threshold,
    wait_takeover: r.wait_takeover / 1000,
  };
}

export function rebalanceFor(config: VireoConfig, broker: Broker, load: NodeLoad, logger: Logger, ready: () => boolean = () => true): RebalanceParts {
  const log = logger.child({ component: 'rebalance' });
  const self = broker.options.nodeName;
  // the session phase moves offline persistent sessions only: connected clients moved themselves
  const offline = () => movableSessions(broker).filter((id) => broker.connection(id) === undefined);
  const agent = new RebalanceAgent({
    broker,
    load,
    log,
    pushSessions: async (count, rate, recipients, signal) => (await pushSessions(broker, { rate, targets: recipients, signal, sessions: offline, limit: count })).pushed,
  });
  const call: NodeCall = async (node, op, args) => {
    if (node === self) return ops[op]!(args as Record<string, unknown>);
    if (!broker.cluster.callNode) throw new Error(`node ${node} is not running`);
    return broker.cluster.callNode(node, op, args);
  };
  const coordinator = new RebalanceCoordinator({ self, control: donorControl(call), log });
  const ops = rebalanceOps(agent, coordinator);
  const defaults = rebalanceDefaults(config);

  let auto: NodeJS.Timeout | undefined;
  if (config.cluster.rebalance.auto) {
    // once per start: when this node is ready and has a running peer, it has joined
    auto = setInterval(() => {
      const nodes = broker.cluster.nodes();
      if (!ready() || nodes.length < 2) return;
      clearInterval(auto);
      auto = undefined;
      log.info({ nodes }, 'Joined a cluster: starting a rebalance (cluster.rebalance.auto)');
      void coordinator.start({ ...defaults, nodes }).then((r) => {
        if (!r.ok && r.error !== 'nothing_to_balance') log.warn({ error: r.error, reason: r.message }, 'Automatic rebalance not started');
      });
    }, 1000);
    auto.unref();
  }

  return {
    agent,
    coordinator,
    admin: {
      ops,
      schemas: REBALANCE_OP_SCHEMAS,
      startProps: rebalanceStartApiProps,
      defaults,
      metrics: {
        coordinatorState: () => coordinator.status()?.state,
        donor: () => agent.enabled,
        totals: () => ({ finished: coordinator.finished, aborted: coordinator.aborted, ...agent.totals }),
      },
    },
    close() {
      if (auto) clearInterval(auto);
      void coordinator.stop();
      agent.close();
    },
  };
}
