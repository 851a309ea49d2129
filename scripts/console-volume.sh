#!/usr/bin/env bash
# The console with real volumes (issue 15): starts a release server on a temp data dir, seeds it
# through the API with 1,000,000 issued codes, 100,000 recorded scans (each from another client
# network) and 1,000 complaints, then times every console page of scripts/console-pages.txt as
# its role (examples/console_volume.rs): a table of status, size, median, p95 and worst time.
# Exits 1 when a page is not 200, is over 100 KB or has a p95 of 300 ms or more.
# Usage: ./scripts/dev console-volume [CODES=1000000] [SCANS=100000] [COMPLAINTS=1000]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
T="${CARGO_TARGET_DIR:-/root/.cache/traceseal-target}"
WORK="$(mktemp -d)"
PORT=18081
trap 'kill $(cat "$WORK/pid" 2>/dev/null) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$T/release/traceseal" init --data-dir "$WORK/data" --public-host verify.example.com >/dev/null
TRACESEAL_RATE_PER_SECOND=10000000 TRACESEAL_RATE_BURST=10000000 TRACESEAL_COMPLAINTS_PER_HOUR=1000000 \
  TRACESEAL_CHAIN_ENABLED=false RUST_LOG=warn TRACESEAL_TRUSTED_PROXIES=127.0.0.1 \
  "$T/release/traceseal" serve --dev --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
echo $! >"$WORK/pid"
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
"$T/release/examples/console_volume" "http://127.0.0.1:$PORT" "$WORK/data/admin.token" \
  "$ROOT/scripts/console-pages.txt" "${1:-1000000}" "${2:-100000}" "${3:-1000}"
echo "== data dir: $(du -sh "$WORK/data/db" | cut -f1)"
