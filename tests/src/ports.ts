/**
 * Ports for the servers tests start, handed out so that test files running at once cannot get
 * the same one. A port the OS hands out for `listen(0)` and is then released is free only for a
 * moment: until a node binds it, another test file's `listen(0)` or any outgoing connection (the
 * OS picks their local ports from the same ephemeral range) can take it: EADDRINUSE. So the
 * ports come from below the ephemeral range, where the OS puts nothing by itself, and each test
 * process claims a block of them of its own (a lock file naming its pid, taken over once that
 * pid is gone), handing them out in turn and checking each is free.
 */
import net from 'node:net';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** First port of the first block: above the fixed ports of the servers tests run (etcd, PostgreSQL, Redis…). */
const BASE = 20_000;
/** Ports per test process: a file starts tens of nodes at most, so a port comes round again only long after it was used. */
const BLOCK = 400;
const LOCKS = join(tmpdir(), 'vireo-test-ports');

/** The OS's ephemeral range starts here (Linux's default 32768 when it cannot be read). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, only not ours to signal
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claims block `k` for this process: free, or held by a process that is gone. */
function claim(k: number): boolean {
  const file = join(LOCKS, String(k));
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const owner = Number(readFileSync(file, 'utf8'));
  if (owner === process.pid) return true;
  if (Number.isInteger(owner) && owner > 0 && alive(owner)) return false;
  // the owner is gone: one process takes the block over, whoever holds the takeover file
  const takeover = `${file}.takeover`;
  try {
    writeFileSync(takeover, String(process.pid), { flag: 'wx' });
  } catch {
    return false;
  }
  try {
    if (Number(readFileSync(file, 'utf8')) !== owner) return false;
    writeFileSync(file, String(process.pid));
    return true;
  } finally {
    unlinkSync(takeover);
  }
}

interface Block {
  first: number;
  next: number;
}

let block: Block | null | undefined;

/** This process's block, claimed on first use; null when there is no room below the ephemeral range. */
function ownBlock(): Block | null {
  if (block !== undefined) return block;
  const count = Math.floor((ephemeralLow() - BASE) / BLOCK);
  block = null;
  if (count < 2) return block;
  try {
    claimBlock(count);
  } catch {
    // a lock dir this user may not write (another user's tests on the machine): the OS picks
    block = null;
  }
  return block;
}

function claimBlock(count: number): void {
  mkdirSync(LOCKS, { recursive: true });
  // start anywhere: processes starting together try different blocks first
  const start = process.pid % count;
  for (let i = 0; i < count && block === null; i++) {
    const k = (start + i) % count;
    if (claim(k)) {
      block = { first: BASE + k * BLOCK, next: 0 };
      const file = join(LOCKS, String(k));
      process.once('exit', () => {
        try {
          if (Number(readFileSync(file, 'utf8')) === process.pid) unlinkSync(file);
        } catch {
          // gone already
        }
      });
    }
  }
}

/** Whether `port` can be listened on at `host` now (`0`: the port the OS picks). */
function listenable(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, host, () => {
      const got = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(got));
    });
  });
}

/** A free port of this process's block (its next one not in use), else one the OS picks. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const b = ownBlock();
  if (b) {
    for (let i = 0; i < BLOCK; i++) {
      const port = b.first + (b.next++ % BLOCK);
      if ((await listenable(port, host)) !== undefined) return port;
    }
  }
  const port = await listenable(0, host);
  if (port === undefined) throw new Error(`no free port on ${host}`);
  return port;
}
