/**
 * `node.evacuate_on_shutdown` and `node.evacuation.*`: what a SIGTERM runs before the node
 * stops (docs/evacuation.md).
 */
import type { EvacuationOptions } from '@vireo/rebalance';
import type { VireoConfig } from './config-schema.js';

/** The SIGTERM evacuation's parameters, in the API's units (seconds, per second). */
export function shutdownEvacuation(config: VireoConfig): EvacuationOptions | undefined {
  if (!config.node.evacuate_on_shutdown) return undefined;
  const e = config.node.evacuation;
  const o: EvacuationOptions = {
    wait_health_check: e.wait_health_check / 1000,
    conn_evict_rate: e.conn_evict_rate,
    sess_evict_rate: e.sess_evict_rate,
    wait_takeover: e.wait_takeover / 1000,
  };
  if (e.redirect_to !== '') o.redirect_to = e.redirect_to;
  if (e.migrate_to.length > 0) o.migrate_to = [...e.migrate_to];
  return o;
}
