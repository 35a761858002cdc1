#!/usr/bin/env bash
# Prints N fake nodes (default 3) as one List for kubectl apply. kwok manages
# every node annotated kwok.x-k8s.io/node=fake: it keeps them Ready and takes
# pods scheduled onto them to Running and Ready. Each node holds at most
# 1,000 pods (max-pods), so 10,000 pods need 10 of them. metrics-server
# scrapes each node's resource metrics, which kwok serves per node under the
# path the metrics.k8s.io/resource-metrics-path annotation names.
#   hack/cluster/kwok-nodes.sh 12 | kubectl apply -f -
set -euo pipefail
count="${1:-3}"
[[ "$count" =~ ^[1-9][0-9]*$ ]] || { echo "kwok-nodes.sh: node count must be a positive integer, got '$count'" >&2; exit 2; }
echo 'apiVersion: v1'
echo 'kind: List'
echo 'items:'
for ((i = 0; i < count; i++)); do
  cat <<NODE
  - apiVersion: v1
    kind: Node
    metadata:
      name: kwok-node-$i
      annotations: { kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0", metrics.k8s.io/resource-metrics-path: /metrics/nodes/kwok-node-$i/metrics/resource }
      labels: { kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok, topology.kubernetes.io/zone: zone-$((i % 3)) }
    spec:
      taints: []
    status:
      allocatable: { cpu: "64", memory: 256Gi, pods: "1000" }
      capacity: { cpu: "64", memory: 256Gi, pods: "1000" }
NODE
done
