#!/usr/bin/env bash
# Starts a Kubernetes cluster for tests and the demo, writes its kubeconfig to
# .cluster/kubeconfig and links kubectl, helm, kwokctl and etcd into
# .cluster/bin/. Idempotent: a running cluster is reused, a crashed one is
# cleaned up and started again.
#   CLUSTER=local  real kube-apiserver, controller-manager, scheduler and etcd,
#                  kwok simulating nodes and pods; no container runtime needed
#   CLUSTER=kind   kind, for machines with Docker
#   CLUSTER=auto   (default) kind when Docker answers and kind is installed, else local
#   KWOK_NODES=N   fake nodes of the local control plane (default 3, 1,000 pods
#                  each); on a running cluster, adds the missing ones
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HACK="$ROOT/hack"
source "$HACK/versions.env"
CACHE="${SMART_ROUTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smart-router}"
STATE="$ROOT/.cluster"
NAME=smart-router
KUBECONFIG_OUT="$STATE/kubeconfig"
BIN="$STATE/bin"
log() { printf '[cluster-up] %s\n' "$*" >&2; }

mode="${CLUSTER:-auto}"
if [ "$mode" = auto ]; then
  if command -v kind >/dev/null 2>&1 && docker info >/dev/null 2>&1; then mode=kind; else mode=local; fi
fi
mkdir -p "$STATE" "$BIN"
echo "$mode" > "$STATE/mode"

healthy() { [ -f "$KUBECONFIG_OUT" ] && "$BIN/kubectl" --kubeconfig "$KUBECONFIG_OUT" --request-timeout=5s get --raw /readyz >/dev/null 2>&1; }

link_tools() {
  ln -sf "$CACHE/kubernetes-$KUBERNETES_VERSION/bin/kubectl" "$BIN/kubectl"
  ln -sf "$CACHE/helm-$HELM_VERSION/bin/helm" "$BIN/helm"
  ln -sf "$CACHE/kwok-$KWOK_VERSION/bin/kwokctl" "$BIN/kwokctl"
  ln -sf "$CACHE/kwok-$KWOK_VERSION/bin/kwok" "$BIN/kwok"
  ln -sf "$CACHE/etcd-$ETCD_VERSION/bin/etcd" "$BIN/etcd"
  ln -sf "$CACHE/promtool-$PROMETHEUS_VERSION/bin/promtool" "$BIN/promtool"
  ln -sf "$CACHE/metrics-server-$METRICS_SERVER_VERSION/bin/metrics-server" "$BIN/metrics-server"
}

"$HACK/build-tools.sh"
link_tools
export PATH="$BIN:$PATH"

kwok_nodes="${KWOK_NODES:-3}"
# Idempotent: nodes already there stay as they are, missing ones are added.
apply_nodes() {
  "$HACK/cluster/kwok-nodes.sh" "$kwok_nodes" | "$BIN/kubectl" --kubeconfig "$KUBECONFIG_OUT" apply -f - >/dev/null
  "$BIN/kubectl" --kubeconfig "$KUBECONFIG_OUT" wait --for=condition=Ready node --all --timeout=60s >/dev/null
}

if healthy; then
  [ "$mode" = kind ] || apply_nodes
  log "cluster already running ($mode): $KUBECONFIG_OUT"
  exit 0
fi

started=$SECONDS
if [ "$mode" = kind ]; then
  kind delete cluster --name "$NAME" >/dev/null 2>&1 || true
  kind create cluster --name "$NAME" --kubeconfig "$KUBECONFIG_OUT" --wait 120s
else
  export KWOK_WORKDIR="$STATE/kwok"
  # Whatever a crashed run left behind: its processes, then its state.
  "$HACK/cluster-down.sh" --quiet
  mkdir -p "$STATE" "$BIN"
  echo "$mode" > "$STATE/mode"
  link_tools
  K="$CACHE/kubernetes-$KUBERNETES_VERSION/bin"
  # metrics-server scrapes the resource metrics kwok emulates for each pod
  # (from its kwok.x-k8s.io/usage-cpu annotation), so an HPA on CPU works.
  # kwokctl would download its manifest and kubectl: give it local ones.
  cat > "$STATE/kwokctl.yaml" <<YAML
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  metricsServerManifests: ["$HACK/cluster/metrics-server"]
YAML
  export KWOK_KUBECTL_BINARY="$K/kubectl"
  # One controller-manager and one scheduler, nothing to elect: on a loaded
  # machine a lease renewal that times out made them exit (and kwokctl does
  # not restart them), which stopped every StatefulSet and every scheduling.
  kwokctl --config "$STATE/kwokctl.yaml" create cluster --name "$NAME" --runtime binary \
    --kube-apiserver-binary "$K/kube-apiserver" \
    --kube-controller-manager-binary "$K/kube-controller-manager" \
    --kube-scheduler-binary "$K/kube-scheduler" \
    --etcd-binary "$CACHE/etcd-$ETCD_VERSION/bin/etcd" \
    --enable metrics-server --metrics-server-binary "$CACHE/metrics-server-$METRICS_SERVER_VERSION/bin/metrics-server" \
    --kwok-controller-binary "$CACHE/kwok-$KWOK_VERSION/bin/kwok" \
    --kube-authorization=true --kube-admission=true --disable-qps-limits \
    --extra-args kube-controller-manager=leader-elect=false \
    --extra-args kube-scheduler=leader-elect=false \
    --kubeconfig "$KUBECONFIG_OUT" \
    --wait 120s --timeout 180s
  # Fake nodes: kwok keeps them Ready and runs the pods scheduled onto them.
  apply_nodes
fi
log "cluster up ($mode) in $((SECONDS - started))s: export KUBECONFIG=$KUBECONFIG_OUT PATH=$BIN:\$PATH"
