#!/usr/bin/env bash
# Loads the health endpoint from a second process on loopback with wrk (Debian package
# `wrk`): /health/ready with cached checks against /static, a bare axum handler returning
# the same bytes. Prints wrk's summary of each.
set -euo pipefail
cd "$(dirname "$0")/../../.."
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
ADDR=127.0.0.1:18080
cargo build --release -q -p foundation-bench --example health_server
target/release/examples/health_server "$ADDR" &
SERVER=$!
trap 'kill $SERVER' EXIT
for _ in $(seq 1 50); do curl -sf "http://$ADDR/static" >/dev/null && break; sleep 0.1; done
for path in /static /health/ready; do
  echo "== $path"
  wrk -t1 -c32 -d10s "http://$ADDR$path"
done
