# The local Kubernetes control plane (or kind): see hack/README.md.
.PHONY: tools cluster-up cluster-down cluster-status

tools: ## Build kube-apiserver, controller-manager, scheduler, kubectl, etcd, kwok and helm once into the cache
	hack/build-tools.sh

cluster-up: ## Start a cluster (CLUSTER=local|kind|auto); kubeconfig in .cluster/kubeconfig
	hack/cluster-up.sh

cluster-down: ## Stop the cluster and remove its state
	hack/cluster-down.sh

cluster-status: ## Show the cluster's nodes and pods
	.cluster/bin/kubectl --kubeconfig .cluster/kubeconfig get nodes,pods -A -o wide
