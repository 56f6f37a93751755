#!/usr/bin/env bash
# QoS 1 with persistent sessions, the same run against one node per store mode:
# durable_storage.backend=memory, sqlite with durability=durable, sqlite with durability=relaxed.
# Usage: scripts/bench-durability.sh [seconds per run, default 5] [pairs, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
pairs=${2:-10}
bench=../shared/bench/mqtt-bench.mjs
for mode in memory durable relaxed; do
  dir=$(mktemp -d)
  port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  backend=sqlite; durability=durable
  [ "$mode" = memory ] && backend=memory
  [ "$mode" = relaxed ] && durability=relaxed
  VIREO_NODE__DATA_DIR=$dir VIREO_LISTENERS__TCP__DEFAULT__BIND=127.0.0.1:$port VIREO_LISTENERS__WS__DEFAULT__BIND=0 \
    VIREO_DASHBOARD__LISTENERS__HTTP__BIND=0 VIREO_CLUSTER__RPC__BIND=0 VIREO_LOG__LEVEL=warning \
    VIREO_DURABLE_STORAGE__BACKEND=$backend VIREO_DURABLE_STORAGE__DURABILITY=$durability \
    node packages/server/dist/cli.js start >"$dir/vireo.log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  node "$bench" pairs -p "$port" -n "$pairs" -q 1 -V 5 --no-clean --session-expiry 3600 -d "$secs" --pid $pid --quiet --label "$mode" \
    | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const r=JSON.parse(s);console.log(JSON.stringify({mode:process.argv[1],...(r.summary??r)}))})" "$mode"
  kill $pid; wait $pid || true
  rm -rf "$dir"
done
