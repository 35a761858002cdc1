#!/usr/bin/env bash
# Stops the cluster hack/cluster-up.sh started and removes its state.
# Idempotent; also cleans up after a crashed run.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="$ROOT/.cluster"
NAME=smart-router
quiet=false
[ "${1:-}" = --quiet ] && quiet=true
log() { $quiet || printf '[cluster-down] %s\n' "$*" >&2; }

mode="$(cat "$STATE/mode" 2>/dev/null || echo local)"
if [ "$mode" = kind ]; then
  command -v kind >/dev/null 2>&1 && kind delete cluster --name "$NAME" >/dev/null 2>&1
else
  export KWOK_WORKDIR="$STATE/kwok"
  if [ -x "$STATE/bin/kwokctl" ] && [ -d "$KWOK_WORKDIR/clusters/$NAME" ]; then
    PATH="$STATE/bin:$PATH" kwokctl delete cluster --name "$NAME" >/dev/null 2>&1 || true
  fi
  # Anything still running from this checkout's cluster (a kill -9 leaves pid files behind).
  if [ -d "$KWOK_WORKDIR" ]; then
    for pidfile in $(find "$KWOK_WORKDIR" -name '*.pid' 2>/dev/null); do
      pid="$(cat "$pidfile" 2>/dev/null)"
      [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    done
    pkill -9 -f "$KWOK_WORKDIR/" 2>/dev/null
  fi
fi
rm -rf "$STATE"
log "cluster down"
exit 0
