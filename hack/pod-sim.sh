#!/usr/bin/env bash
# Simulates what a kubelet would report, for tests on the local control plane
# (kwok runs no containers): a readiness probe failing or passing, or a
# container restart (of every container, or only the one named).
#   hack/pod-sim.sh notready|ready|restart <pod> [namespace] [container]
# It patches the pod's status subresource, as a kubelet does; kwok's stages
# only act on pods that have not started yet, so the patch sticks.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
action="${1:?usage: pod-sim.sh notready|ready|restart <pod> [namespace]}"
pod="${2:?usage: pod-sim.sh notready|ready|restart <pod> [namespace]}"
ns="${3:-default}"
only="${4:-}"
kubectl() { "$ROOT/.cluster/bin/kubectl" --kubeconfig "${KUBECONFIG:-$ROOT/.cluster/kubeconfig}" -n "$ns" "$@"; }

containers() { kubectl get pod "$pod" -o jsonpath='{range .status.containerStatuses[*]}{.name}{" "}{.restartCount}{"\n"}{end}'; }

case "$action" in
  notready|ready)
    status=$([ "$action" = ready ] && echo True || echo False)
    ready=$([ "$action" = ready ] && echo true || echo false)
    statuses=""
    while read -r name _; do
      [ -n "$name" ] && statuses+="{\"name\":\"$name\",\"ready\":$ready},"
    done < <(containers)
    kubectl patch pod "$pod" --subresource=status --type=strategic -p \
      "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"$status\"},{\"type\":\"ContainersReady\",\"status\":\"$status\"}],\"containerStatuses\":[${statuses%,}]}}" >/dev/null
    ;;
  restart)
    statuses=""
    # The list is replaced as a whole (it has no merge key): containers not restarted keep their count.
    while read -r name count; do
      [ -n "$name" ] || continue
      if [ -z "$only" ] || [ "$name" = "$only" ]; then count=$((count + 1)); fi
      statuses+="{\"name\":\"$name\",\"restartCount\":$count},"
    done < <(containers)
    [ -n "$statuses" ] || { echo "pod $pod has no container statuses yet" >&2; exit 1; }
    kubectl patch pod "$pod" --subresource=status --type=strategic -p "{\"status\":{\"containerStatuses\":[${statuses%,}]}}" >/dev/null
    ;;
  *) echo "unknown action $action: notready, ready or restart" >&2; exit 2 ;;
esac
echo "pod/$pod $action"
