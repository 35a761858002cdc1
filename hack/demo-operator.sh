#!/usr/bin/env bash
# make demo-operator: smart-router in operator mode on the local control plane
# (or kind): the example pools and a StatefulSet of five voice agents, the
# operator labelling them, then a sample call. Keeps serving until Ctrl-C;
# DEMO_ONESHOT=1 stops after the sample.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${DEMO_PORT:-8080}"
WEBHOOK_PORT="${DEMO_WEBHOOK_PORT:-9443}"
REDIS_PORT="${DEMO_REDIS_PORT:-6389}"
NS=smart-router-demo
RUN=.run/demo-operator
mkdir -p "$RUN"
export KUBECONFIG="$PWD/.cluster/kubeconfig"
kubectl() { .cluster/bin/kubectl "$@"; }

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

hack/cluster-up.sh
if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$PWD/$RUN" --appendonly yes --save '' >"$RUN/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

kubectl apply -f crds/ >/dev/null
kubectl wait --for=condition=Established crd/voiceagentpools.smartrouter.io --timeout=60s >/dev/null
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
awk 'BEGIN{RS="\n---\n"; ORS="\n---\n"} /kind: VoiceAgentPool/' examples/pools.yaml | kubectl -n "$NS" apply -f -
kubectl -n "$NS" apply -f - <<'YAML'
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: voice-agent }
spec:
  serviceName: voice-agent
  replicas: 5
  podManagementPolicy: Parallel
  selector: { matchLabels: { app: voice-agent } }
  template:
    metadata: { labels: { app: voice-agent } }
    spec:
      containers: [{ name: agent, image: voice-agent:demo }]
YAML

REDIS_URL="redis://127.0.0.1:$REDIS_PORT" PORT="$PORT" HOST=127.0.0.1 KEY_PREFIX=demo-operator \
  node dist/cli/main.js operator --kubeconfig "$KUBECONFIG" --namespace "$NS" --webhook-port "$WEBHOOK_PORT" >"$RUN/router.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
  [ "$(kubectl -n "$NS" get pods -l smartrouter.io/pool -o name 2>/dev/null | wc -l)" -ge 5 ] && break
  sleep 0.2
done
echo
kubectl -n "$NS" get pods -L smartrouter.io/pool
kubectl -n "$NS" get voiceagentpools
echo
echo "\$ curl -s -X POST localhost:$PORT/api/v1/allocate -d '{\"call_sid\": \"DEMO_CALL_1\"}'"
curl -s -X POST "http://127.0.0.1:$PORT/api/v1/allocate" -H 'content-type: application/json' -d '{"call_sid": "DEMO_CALL_1"}'; echo
echo "\$ curl -s -X POST localhost:$PORT/api/v1/release -d '{\"call_sid\": \"DEMO_CALL_1\"}'"
curl -s -X POST "http://127.0.0.1:$PORT/api/v1/release" -H 'content-type: application/json' -d '{"call_sid": "DEMO_CALL_1"}'; echo
echo
echo "Try: KUBECONFIG=$KUBECONFIG .cluster/bin/kubectl -n $NS annotate pod voice-agent-1 smartrouter.io/drain=true"
echo "  or, with a call on a pod: KUBECONFIG=$KUBECONFIG .cluster/bin/kubectl drain <its node> --ignore-daemonsets --pod-selector app=voice-agent"
echo "  (the eviction guard answers on https://127.0.0.1:$WEBHOOK_PORT; smart-router-$NS is its webhook configuration)"
[ "${DEMO_ONESHOT:-0}" = 1 ] && exit 0
echo "Serving until Ctrl-C (logs: $RUN/router.log)."
wait "${pids[-1]}"
