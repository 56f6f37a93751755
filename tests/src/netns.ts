/**
 * A small real network for fault tests: one network namespace per node, each with a veth
 * into a bridge in the test's namespace (which reaches every node, as clients would).
 * `cut` partitions two groups of nodes with blackhole routes inside their namespaces —
 * packets between the groups are dropped, the way a failed switch or firewall drops
 * them — while the test still reaches every node. Needs root and `ip`; everything is
 * removed by `close()` and at process exit.
 */
import { execFileSync } from 'node:child_process';

export interface NetLab {
  /** Namespace of node i. */
  ns: string[];
  /** Address of node i. */
  ips: string[];
  /** Command prefix that runs a program inside node i's namespace. */
  exec(i: number): string[];
  /** Drops every packet between a node of `left` and a node of `right` (indexes). */
  cut(left: number[], right: number[]): void;
  /** Removes every cut. */
  heal(): void;
  close(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Whether this process can build namespaces (root with iproute2). */
export function netnsAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function createNetLab(n: number): NetLab {
  // names and subnet from the pid: concurrent test processes do not collide
  const tag = `vl${process.pid % 100_000}`;
  const subnet = `10.213.${(process.pid % 250) + 1}`;
  const bridge = `${tag}b`;
  const ns = Array.from({ length: n }, (_, i) => `${tag}n${i}`);
  const ips = ns.map((_, i) => `${subnet}.${11 + i}`);
  const cuts: [number, string][] = [];
  let closed = false;

  const removeAll = (): void => {
    ns.forEach((name, i) => {
      // deleting one end of a veth deletes both; the kernel frees a namespace lazily
      for (const args of [
        ['link', 'del', `${tag}h${i}`],
        ['netns', 'del', name],
      ]) {
        try {
          ip(...args);
        } catch {
          // never made
        }
      }
    });
    try {
      ip('link', 'del', bridge);
    } catch {
      // never made
    }
  };
  const close = (): void => {
    if (closed) return;
    closed = true;
    removeAll();
  };
  process.once('exit', close);

  try {
    removeAll(); // leftovers of an earlier run with the same pid
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${subnet}.1/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    ns.forEach((name, i) => {
      const host = `${tag}h${i}`;
      const peer = `${tag}p${i}`;
      ip('netns', 'add', name);
      ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
      ip('link', 'set', peer, 'netns', name);
      ip('link', 'set', host, 'master', bridge);
      ip('link', 'set', host, 'up');
      ip('-n', name, 'link', 'set', 'lo', 'up');
      ip('-n', name, 'addr', 'add', `${ips[i]}/24`, 'dev', peer);
      ip('-n', name, 'link', 'set', peer, 'up');
    });
  } catch (err) {
    close();
    throw err;
  }

  return {
    ns,
    ips,
    exec: (i) => ['ip', 'netns', 'exec', ns[i]!],
    cut(left, right) {
      for (const a of left) {
        for (const b of right) {
          ip('-n', ns[a]!, 'route', 'add', 'blackhole', `${ips[b]}/32`);
          cuts.push([a, ips[b]!]);
          ip('-n', ns[b]!, 'route', 'add', 'blackhole', `${ips[a]}/32`);
          cuts.push([b, ips[a]!]);
        }
      }
    },
    heal() {
      for (const [a, addr] of cuts.splice(0)) ip('-n', ns[a]!, 'route', 'del', 'blackhole', `${addr}/32`);
    },
    close,
  };
}
