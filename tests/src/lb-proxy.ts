/**
 * A small TCP load balancer for tests, as a cloud load balancer with an HTTP health check
 * behaves in front of a cluster: it polls each node's
 * `GET /api/v5/load_rebalance/availability_check` and sends each new connection to the next
 * node, round-robin, among those whose check answers 200 in time (`fall` failed checks in
 * a row — a refused connection, a 503, no answer within the timeout — take a node out; the
 * next 200 puts it back; `add` puts a node that joins behind it). Connections it has made are left alone
 * when their node goes out of rotation, as a real load balancer does: moving clients is
 * the broker's job. `routed` and `open` count, per node, what it sent and what is still open.
 */
import net from 'node:net';

export interface LbBackend {
  /** For the test's messages and counts, e.g. the node name. */
  name: string;
  host?: string;
  mqttPort: number;
  httpPort: number;
}

export interface LbProxy {
  readonly port: number;
  /** Names of the backends in rotation now (last check 200). */
  available(): string[];
  /** How many connections each backend was sent since start. */
  routed(): Record<string, number>;
  /** How many of those are still open, per backend. */
  open(): Record<string, number>;
  /** Puts a backend behind the balancer (a node that joins): checked, then in rotation. */
  add(b: LbBackend): void;
  /** Resolves once exactly `names` are in rotation; rejects after `ms`. */
  waitAvailable(names: string[], ms?: number): Promise<void>;
  close(): Promise<void>;
}

export interface LbOptions {
  /** Between two checks of a backend (default 200 ms). */
  intervalMs?: number;
  /** A check not answered within this is a failure (default 1 000 ms). */
  timeoutMs?: number;
  /** Failed checks in a row that take a node out (default 2, so one slow answer on a busy machine does not). */
  fall?: number;
}

export const AVAILABILITY_CHECK = '/api/v5/load_rebalance/availability_check';

export async function startLbProxy(initial: LbBackend[], opts: LbOptions = {}): Promise<LbProxy> {
  const intervalMs = opts.intervalMs ?? 200;
  const timeoutMs = opts.timeoutMs ?? 1000;
  const fall = opts.fall ?? 2;
  const backends: LbBackend[] = [];
  const up = new Set<string>();
  const routed: Record<string, number> = {};
  const open: Record<string, number> = {};
  const sockets = new Set<net.Socket>();
  let next = 0;
  let closed = false;

  // one check loop per backend, each waiting for its own answer (a frozen node must not
  // delay the others' checks)
  const check = async (b: LbBackend) => {
    let failed = 0;
    while (!closed) {
      const ok = await fetch(`http://${b.host ?? '127.0.0.1'}:${b.httpPort}${AVAILABILITY_CHECK}`, { signal: AbortSignal.timeout(timeoutMs) }).then(
        async (r) => (await r.arrayBuffer(), r.status === 200),
        () => false,
      );
      failed = ok ? 0 : failed + 1;
      if (ok) up.add(b.name);
      else if (failed >= fall) up.delete(b.name);
      if (!closed) await new Promise((r) => setTimeout(r, intervalMs));
    }
  };
  const loops: Promise<void>[] = [];
  const add = (b: LbBackend) => {
    if (routed[b.name] !== undefined) throw new Error(`load balancer: ${b.name} is already a backend`);
    backends.push(b);
    routed[b.name] = 0;
    open[b.name] = 0;
    loops.push(check(b));
  };
  for (const b of initial) add(b);

  const pick = (): LbBackend | undefined => {
    for (let i = 0; i < backends.length; i++) {
      const b = backends[(next + i) % backends.length];
      if (up.has(b.name)) {
        next = (next + i + 1) % backends.length;
        return b;
      }
    }
    return undefined;
  };

  const server = net.createServer((client) => {
    const b = pick();
    // no node available: refuse, as a load balancer with no healthy target does
    if (!b) return client.destroy();
    routed[b.name]++;
    open[b.name]++;
    const upstream = net.createConnection({ host: b.host ?? '127.0.0.1', port: b.mqttPort });
    sockets.add(client).add(upstream);
    let ended = false;
    const end = () => {
      if (!ended) open[b.name]--;
      ended = true;
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    available: () => backends.filter((b) => up.has(b.name)).map((b) => b.name),
    routed: () => ({ ...routed }),
    open: () => ({ ...open }),
    add,
    async waitAvailable(names, ms = 10_000) {
      const want = [...names].sort().join(',');
      const until = Date.now() + ms;
      for (;;) {
        const now = [...up].sort().join(',');
        if (now === want) return;
        if (Date.now() > until) throw new Error(`load balancer: expected [${want}] available, have [${now}] after ${ms} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      closed = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(loops);
    },
  };
}
