/**
 * Loaded into every test file's process by `npm test` (node --test --import). Once the file's
 * tests and after() hooks are over, the process should end by itself: whatever still holds it
 * open GRACE_MS later (a timer, a socket, a server, a child process) is a leak, or a test that
 * timed out and left its broker running. Then this prints what is open and exits with 1, so the file
 * fails, the leak is seen, and the run does not hang (what --test-force-exit did silently).
 * Where each resource came from: LEAK_STACKS=1 (slower: a stack per timer and socket).
 */
import { createHook } from 'node:async_hooks';
import { createRequire, syncBuiltinESMExports } from 'node:module';

const require = createRequire(import.meta.url);
const nodeTest = require('node:test');

const GRACE_MS = Number(process.env.TEST_EXIT_GRACE_MS ?? 10_000);
const WATCH = new Set([
  'Timeout',
  'TCPWRAP',
  'TCPSERVERWRAP',
  'PIPEWRAP',
  'PIPESERVERWRAP',
  'PROCESSWRAP',
  'UDPWRAP',
  'TLSWRAP',
  'SIGNALWRAP',
  'FSEVENTWRAP',
  'STATWATCHER',
  'WORKER',
  'Immediate',
  'HTTPCLIENTREQUEST',
  'MESSAGEPORT',
  'GETADDRINFOREQWRAP',
  'TCPCONNECTWRAP',
  'FILEHANDLE',
]);
const here = () =>
  (new Error().stack ?? '')
    .split('\n')
    .slice(3)
    .filter((l) => !l.includes('node:internal') && !l.includes('exit-guard.mjs'))
    .join('\n');

const live = new Map();
// a Timeout that fired can be re-armed by refresh() without a new init: timers are kept weakly
// and checked themselves
const timers = new Set();
if (process.env.LEAK_STACKS === '1') {
  Error.stackTraceLimit = 20;
  createHook({
    init(id, type, _trigger, resource) {
      if (!WATCH.has(type)) return;
      if (type === 'Timeout') timers.add({ ref: new WeakRef(resource), stack: here() });
      else live.set(id, { type, resource, stack: here() });
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
}

// what the process holds before any test runs (its stdio) is not the tests'
const baseline = process.getActiveResourcesInfo();

function report() {
  const open = process.getActiveResourcesInfo();
  for (const t of baseline) {
    const i = open.indexOf(t);
    if (i >= 0) open.splice(i, 1);
  }
  if (open.length === 0) return;
  const lines = [`${process.argv[1] ?? 'this test file'}: still open ${GRACE_MS} ms after its tests ended: ${JSON.stringify(open)}`];
  for (const r of live.values()) {
    if (typeof r.resource?.hasRef === 'function' && !r.resource.hasRef()) continue;
    if (r.type === 'FILEHANDLE' && !open.includes('FileHandle')) continue;
    lines.push(`--- ${r.type}\n${r.stack}`);
  }
  for (const t of timers) {
    const timer = t.ref.deref();
    if (timer && !timer._destroyed && timer.hasRef()) lines.push(`--- Timeout (${timer._idleTimeout} ms${timer._repeat ? ', repeating' : ''})\n${t.stack}`);
  }
  if (process.env.LEAK_STACKS !== '1') lines.push('(run the file with LEAK_STACKS=1 to see where each was made)');
  process.stderr.write(`\n${lines.join('\n')}\n`);
  process.exit(1);
}

// The file's own after() hooks run after this module's (registered first) and may take a while
// (stopping nodes, databases): the grace period counts from the last of them, so they are
// wrapped to say when they run. One that never ends is reported after HOOK_LIMIT_MS.
const HOOK_LIMIT_MS = 120_000;
let hooksRunning = 0;
let lastHookEnd = 0;
const after = nodeTest.after;
nodeTest.after = (fn, options) => {
  if (typeof fn !== 'function' || fn.length > 1) return after(fn, options); // callback style: as is
  return after(async (...args) => {
    hooksRunning++;
    try {
      return await fn(...args);
    } finally {
      hooksRunning--;
      lastHookEnd = Date.now();
    }
  }, options);
};
syncBuiltinESMExports();

after(() => {
  const started = Date.now();
  const check = () => {
    const now = Date.now();
    const quietSince = Math.max(started, lastHookEnd);
    if ((hooksRunning === 0 && now - quietSince >= GRACE_MS) || now - started >= HOOK_LIMIT_MS + GRACE_MS) report();
    else setTimeout(check, 500).unref();
  };
  setTimeout(check, 500).unref();
});
