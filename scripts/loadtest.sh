#!/usr/bin/env bash
# Scan-path load test over loopback: starts a release server on a temp data dir, issues codes,
# then runs wrk for DURATION against /api/v1/verify (cycling through real codes; once from the
# one loopback network, where repeated scans count once an hour, and once with every request from
# a random client network via X-Forwarded-For, where every scan counts and is written), against the
# code URIs themselves as a browser asks for them (the HTML scan page), and, in the same run,
# against /healthz (a trivial endpoint of the same server) for comparison. Anchoring
# is on (development chain on 127.0.0.1:18545), so scans include the live anchor check.
# With CUSTODY=1 (the default) the codes' lot has a 10-step signed custody chain, so every scan
# also reads the chain and proves each record; CUSTODY=0 scans items without custody records.
# Usage: [CUSTODY=0|1] ./scripts/dev loadtest [DURATION=30s] [CONNECTIONS=32]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
T="${CARGO_TARGET_DIR:-/root/.cache/traceseal-target}"
DURATION="${1:-30s}"
CONNS="${2:-32}"
WORK="$(mktemp -d)"
PORT=18080
# Stop the server and wait for it before removing its data directory (it may still be writing).
trap 'kill $(cat "$WORK/pid" 2>/dev/null) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$T/release/traceseal" init --data-dir "$WORK/data" --public-host verify.example.com >/dev/null
TRACESEAL_RATE_PER_SECOND=10000000 TRACESEAL_RATE_BURST=10000000 TRACESEAL_DEV_CHAIN_PORT=18545 RUST_LOG=warn \
  TRACESEAL_TRUSTED_PROXIES=127.0.0.1 \
  "$T/release/traceseal" serve --dev --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
echo $! >"$WORK/pid"
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
if [ "${CUSTODY:-1}" = 1 ]; then WITH=custody; else WITH=none; fi
"$T/release/examples/loadtest_setup" "http://127.0.0.1:$PORT" "$WORK/data/admin.token" "$WORK/scan.lua" 1000 "$WITH"

echo "== scan endpoint: GET /api/v1/verify (1000 distinct codes, custody chain: $WITH), $DURATION, $CONNS connections"
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$WORK/scan.lua" "http://127.0.0.1:$PORT" | tee "$WORK/scan.txt"
echo "== scan endpoint, every scan from another client network (X-Forwarded-For): each counts and is recorded, $DURATION, $CONNS connections"
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$WORK/scan.spread.lua" "http://127.0.0.1:$PORT" | tee "$WORK/spread.txt"
echo "== scan page: GET of the code URI with Accept: text/html (same codes), $DURATION, $CONNS connections"
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$WORK/scan.page.lua" "http://127.0.0.1:$PORT" | tee "$WORK/page.txt"
echo "== trivial endpoint: GET /healthz, same server, $DURATION, $CONNS connections"
wrk -t2 -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$PORT/healthz" | tee "$WORK/health.txt"
for f in scan spread page health; do
  if grep -q -E "Non-2xx|Socket errors" "$WORK/$f.txt"; then
    echo "ERRORS in $f run" >&2
    exit 1
  fi
done
echo "== 0 errors in all runs"
