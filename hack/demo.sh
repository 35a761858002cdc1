#!/usr/bin/env bash
# make demo: smart-router in standalone mode on the reference fleet
# (examples/pools.yaml), with its own redis-server, then a sample call.
# Keeps serving until Ctrl-C; DEMO_ONESHOT=1 stops after the sample.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${DEMO_PORT:-8080}"
REDIS_PORT="${DEMO_REDIS_PORT:-6389}"
RUN=.run/demo
mkdir -p "$RUN"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$PWD/$RUN" --appendonly yes --save '' >"$RUN/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

REDIS_URL="redis://127.0.0.1:$REDIS_PORT" PORT="$PORT" HOST=127.0.0.1 KEY_PREFIX=demo \
  node dist/cli/main.js standalone --config examples/pools.yaml >"$RUN/router.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null || { echo "smart-router did not start; see $RUN/router.log" >&2; cat "$RUN/router.log" >&2; exit 1; }

api() { echo "\$ curl -s -X POST localhost:$PORT/api/v1/$1 -d '$2'"; curl -s -X POST "http://127.0.0.1:$PORT/api/v1/$1" -H 'content-type: application/json' -d "$2"; echo; echo; }
echo "smart-router is serving the reference fleet on http://127.0.0.1:$PORT (logs: $RUN/router.log)"
echo
api allocate '{"call_sid": "DEMO_CALL_1"}'
api allocate '{"call_sid": "DEMO_CALL_1"}'
api allocate '{"call_sid": "DEMO_GOLD_1", "merchant_id": "merchant-gold-1"}'
echo "\$ curl -s localhost:$PORT/api/v1/status"; curl -s "http://127.0.0.1:$PORT/api/v1/status"; echo; echo
api release '{"call_sid": "DEMO_CALL_1"}'
api release '{"call_sid": "DEMO_GOLD_1"}'
api release '{"call_sid": "DEMO_CALL_1"}'

if [ "${DEMO_ONESHOT:-0}" = 1 ]; then exit 0; fi
echo "Serving until Ctrl-C. Try: curl -s -X POST localhost:$PORT/api/v1/allocate -H 'content-type: application/json' -d '{\"call_sid\": \"CA123\"}'"
wait "${pids[-1]}"
