/**
 * Whether this node takes new clients: the primitive evacuation and rebalancing share.
 *
 * Two separate switches, each held by an owner (`evacuation`, `rebalance`, …) so that one
 * process releasing its hold does not undo another's:
 * - `giveAway(owner)`: the node is giving load away. `givingLoadAway` is what the HTTP API's
 *   `GET /api/v5/load_rebalance/availability_check` reads (503, so a load balancer and the
 *   Kubernetes readiness probe stop sending new clients here); CONNECTs are still accepted.
 * - `refuseConnects(owner, serverReference)`: new CONNECTs are refused with CONNACK 0x9C (Use
 *   another server), v5 with the Server Reference when one is given (3.1.1: 3, server
 *   unavailable). Takeovers by other nodes still work, so sessions can leave.
 *
 * How rebalancing uses it (EMQX's order): on a donor node, `giveAway('rebalance')` at once;
 * after `wait_health_check`, evict connections with `evictConnections` (connection-evictor.ts)
 * at `conn_evict_rate` until the node is within the thresholds — donors keep accepting
 * CONNECTs (a client the load balancer still sends is not bounced), so do not call
 * `refuseConnects` there; at the end, `release('rebalance')`. Evacuation holds both switches
 * until it ends (evacuation.ts).
 */
import type { Broker } from '@vireo/broker';

export class NodeLoad {
  private readonly away = new Set<string>();
  private readonly refusing = new Map<string, string | undefined>();

  constructor(private readonly broker: Pick<Broker, 'setAdmission'>) {}

  /** True while any owner gives load away (availability_check answers 503). */
  get givingLoadAway(): boolean {
    return this.away.size > 0;
  }

  /** True while any owner refuses new CONNECTs. */
  get refusingConnects(): boolean {
    return this.refusing.size > 0;
  }

  giveAway(owner: string): void {
    this.away.add(owner);
  }

  /** Refuses new CONNECTs (CONNACK 0x9C); `serverReference`: where v5 clients should go instead. */
  refuseConnects(owner: string, serverReference?: string): void {
    this.refusing.set(owner, serverReference);
    this.apply();
  }

  /** `owner` lets go of both switches. */
  release(owner: string): void {
    this.away.delete(owner);
    this.refusing.delete(owner);
    this.apply();
  }

  private apply(): void {
    if (this.refusing.size === 0) return this.broker.setAdmission(undefined);
    // the first reference an owner gave (owners rarely overlap: evacuation wins over rebalancing)
    let serverReference: string | undefined;
    for (const ref of this.refusing.values()) if (serverReference === undefined) serverReference = ref;
    const refusal = { serverReference };
    this.broker.setAdmission(() => refusal);
  }
}
