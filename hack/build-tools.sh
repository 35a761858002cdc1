#!/usr/bin/env bash
# Builds the local control plane's tools from the Go module proxy, once per
# version, into ${XDG_CACHE_HOME:-$HOME/.cache}/smart-router/<tool>-<version>/:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes)
#   etcd                                                             (go.etcd.io/etcd/server/v3)
#   kwok, kwokctl                                                    (sigs.k8s.io/kwok)
#   helm                                                             (helm.sh/helm/v3)
#   promtool                                                         (github.com/prometheus/prometheus)
#   metrics-server                                                   (sigs.k8s.io/metrics-server)
# A tool's folder holds a .complete stamp written last, so a build that was
# interrupted is detected and redone. Usage: hack/build-tools.sh [tool...]
set -euo pipefail
HACK="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$HACK/versions.env"
CACHE="${SMART_ROUTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smart-router}"
export GOFLAGS="-mod=mod"
export CGO_ENABLED=0
mkdir -p "$CACHE"

log() { printf '[build-tools] %s\n' "$*" >&2; }
done_dir() { [ -f "$1/.complete" ]; }

# Runs "$2..." to fill a fresh temp folder, then renames it to $1: the cache
# never holds a half-built tool under its final name.
build_into() {
  local dest="$1"; shift
  if done_dir "$dest"; then log "$(basename "$dest"): cached"; return 0; fi
  local tmp="$dest.partial.$$"
  rm -rf "$tmp" "$dest"
  mkdir -p "$tmp/bin"
  local started=$SECONDS
  log "$(basename "$dest"): building (first time only)"
  "$@" "$tmp"
  date -u +%FT%TZ > "$tmp/.complete"
  mv "$tmp" "$dest"
  log "$(basename "$dest"): built in $((SECONDS - started))s"
}

# k8s.io/kubernetes cannot be `go install`ed: its go.mod replaces the staging
# modules with local paths. A scratch module requires it at the pinned release
# and replaces each staging module with its published v0.x twin.
build_kubernetes() {
  local out="$1" src="$CACHE/src/kubernetes-$KUBERNETES_VERSION"
  local minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
  local staging="v0.${KUBERNETES_VERSION#v1.}"
  rm -rf "$src" && mkdir -p "$src" && cd "$src"
  go mod init smart-router.local/kube-tools >/dev/null 2>&1
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
  [ -f "$gomod" ] || { log "could not download k8s.io/kubernetes@$KUBERNETES_VERSION"; return 1; }
  go mod edit -require="k8s.io/kubernetes@$KUBERNETES_VERSION"
  local n=0
  while read -r module; do
    go mod edit -replace="$module=$module@$staging"
    n=$((n + 1))
  done < <(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/k8s\.io/.*#\1#p' "$gomod")
  log "kubernetes: $n staging modules pinned to $staging"
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  log "kubernetes: resolving modules (downloads a few hundred MB the first time)"
  go mod tidy >/dev/null
  local pkg ld=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%FT%TZ)"
  done
  for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    log "kubernetes: compiling $cmd"
    go build -p 2 -trimpath -ldflags "-s -w$ld" -o "$out/bin/$cmd" "k8s.io/kubernetes/cmd/$cmd"
  done
}

# Debian's etcd is too old for Kubernetes 1.36 (watch progress requests);
# etcdmain.Main is the etcd binary's own entry point.
build_etcd() {
  local out="$1" src="$CACHE/src/etcd-$ETCD_VERSION"
  rm -rf "$src" && mkdir -p "$src" && cd "$src"
  go mod init smart-router.local/etcd >/dev/null 2>&1
  cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1
  go mod tidy >/dev/null
  go build -p 2 -trimpath -ldflags "-s -w" -o "$out/bin/etcd" .
}

build_kwok() {
  GOBIN="$1/bin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
}

build_helm() {
  GOBIN="$1/bin" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

# remove_all_sd leaves the cloud service discoveries (and their SDKs) out:
# promtool only tests rules here.
build_promtool() {
  GOBIN="$1/bin" go install -p 2 -trimpath -tags remove_all_sd -ldflags "-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION" \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION"
}

# The version goes in through ldflags as the project's Makefile does: kwokctl
# reads it from `metrics-server --version` to pick its flags.
build_metrics_server() {
  GOBIN="$1/bin" go install -p 2 -trimpath -ldflags "-s -w -X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION" \
    "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION"
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(etcd kwok helm kubernetes promtool metrics-server)
for tool in "${tools[@]}"; do
  case "$tool" in
    kubernetes) build_into "$CACHE/kubernetes-$KUBERNETES_VERSION" build_kubernetes ;;
    etcd) build_into "$CACHE/etcd-$ETCD_VERSION" build_etcd ;;
    kwok) build_into "$CACHE/kwok-$KWOK_VERSION" build_kwok ;;
    helm) build_into "$CACHE/helm-$HELM_VERSION" build_helm ;;
    promtool) build_into "$CACHE/promtool-$PROMETHEUS_VERSION" build_promtool ;;
    metrics-server) build_into "$CACHE/metrics-server-$METRICS_SERVER_VERSION" build_metrics_server ;;
    *) log "unknown tool $tool (kubernetes, etcd, kwok, helm, promtool, metrics-server)"; exit 2 ;;
  esac
done
