/**
 * freePort() across test processes (ports.ts): two processes running at once get ports of
 * different blocks, below the OS's ephemeral range; a block whose owner is gone is taken over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PORTS = fileURLToPath(new URL('./ports.js', import.meta.url));
const LOCKS = join(tmpdir(), 'vireo-test-ports');

/** A process that takes `n` ports, prints them, and holds its block until its stdin closes. */
function taker(n: number) {
  const code = `const { freePort } = await import(${JSON.stringify(PORTS)});
const got = [];
for (let i = 0; i < ${n}; i++) got.push(await freePort());
console.log(JSON.stringify({ pid: process.pid, got }));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  const ports = new Promise<{ pid: number; got: number[] }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ports within 30 s: ${out}`)), 30_000);
    child.stdout.on('data', () => {
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      resolve(JSON.parse(out) as { pid: number; got: number[] });
    });
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`taker exited (${code}): ${out}`))));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { ports, release: async () => (child.stdin.end(), await exited) };
}

const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

test('two test processes at once get different ports, below the ephemeral range, and free their blocks at exit', { timeout: 60_000 }, async () => {
  const a = taker(30);
  const b = taker(30);
  try {
    const [pa, pb] = await Promise.all([a.ports, b.ports]);
    assert.equal(new Set(pa.got).size, 30, 'no port twice in one process');
    assert.ok(!pa.got.some((p) => pb.got.includes(p)), `disjoint: ${pa.got} / ${pb.got}`);
    for (const p of [...pa.got, ...pb.got]) assert.ok(p >= 20_000 && p < ephemeralLow, `${p} below ${ephemeralLow}`);
    const owned = readdirSync(LOCKS).filter((f) => /^\d+$/.test(f) && [pa.pid, pb.pid].includes(Number(readFileSync(join(LOCKS, f), 'utf8'))));
    assert.equal(owned.length, 2, 'each holds a block');
    await Promise.all([a.release(), b.release()]);
    for (const f of owned) assert.ok(!existsSync(join(LOCKS, f)) || ![pa.pid, pb.pid].includes(Number(readFileSync(join(LOCKS, f), 'utf8'))), `block ${f} freed at exit`);
  } finally {
    await Promise.all([a.release(), b.release()]);
  }
});

test('a block held by a process that is gone is taken over', { timeout: 60_000 }, async () => {
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  assert.ok(dead > 0);
  // every block nobody holds now is left by the dead process: the taker must take one over
  const count = Math.floor((ephemeralLow - 20_000) / 400);
  const planted: string[] = [];
  mkdirSync(LOCKS, { recursive: true });
  for (let k = 0; k < count; k++) {
    try {
      writeFileSync(join(LOCKS, String(k)), String(dead), { flag: 'wx' });
      planted.push(String(k));
    } catch {
      // held by a test file running now: not ours to touch
    }
  }
  const t = taker(3);
  try {
    const { pid, got } = await t.ports;
    const k = String(Math.floor((got[0]! - 20_000) / 400));
    assert.ok(planted.includes(k), `block ${k} was one left by the dead process`);
    assert.equal(Number(readFileSync(join(LOCKS, k), 'utf8')), pid, 'now held by the taker');
  } finally {
    await t.release();
    for (const k of planted) {
      const file = join(LOCKS, k);
      if (existsSync(file) && Number(readFileSync(file, 'utf8')) === dead) unlinkSync(file);
    }
  }
});
