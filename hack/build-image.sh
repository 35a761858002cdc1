#!/usr/bin/env bash
# Builds the smart-router image from the Dockerfile with podman, on base
# images built here from Debian packages (no image registry needed):
#   localhost/smart-router-base:build-<suite>    nodejs + npm, for the build stage
#   localhost/smart-router-base:runtime-<suite>  nodejs only, user nonroot (65532), node at /nodejs/bin/node like distroless
# Each base is built once (mmdebstrap, podman import) and reused; the project
# image is rebuilt from the Dockerfile (its layers are cached).
# Installs podman, buildah, runc and mmdebstrap from Debian when missing.
# Usage: hack/build-image.sh [TAG]   (default smart-router:dev)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=versions.env
source "$ROOT/hack/versions.env"
TAG="${1:-${IMAGE_TAG:-smart-router:dev}}"
SUITE="${BASE_SUITE:-trixie}"
export CONTAINERS_CONF="$ROOT/hack/containers.conf"
log() { printf '[build-image] %s\n' "$*" >&2; }

missing=()
for tool in podman buildah runc mmdebstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} from Debian"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
PODMAN=(podman --runtime runc)

# Trims what a server image never reads: docs, man pages, locales.
EXCLUDES=(--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*')

base() {
  local name="$1" packages="$2" image="localhost/smart-router-base:$1-$SUITE"
  if "${PODMAN[@]}" image exists "$image"; then log "$image: cached"; return; fi
  log "$image: mmdebstrap $SUITE with $packages (first time only)"
  local started=$SECONDS
  mmdebstrap --variant=minbase --include="$packages" "${EXCLUDES[@]}" \
    --customize-hook='echo "nonroot:x:65532:65532:nonroot:/home/nonroot:/usr/sbin/nologin" >> "$1/etc/passwd"' \
    --customize-hook='echo "nonroot:x:65532:" >> "$1/etc/group"' \
    --customize-hook='mkdir -p "$1/home/nonroot" "$1/nodejs/bin" && chown 65532:65532 "$1/home/nonroot" && ln -s /usr/bin/node "$1/nodejs/bin/node"' \
    --customize-hook='rm -rf "$1/var/cache/apt/"* "$1/var/lib/apt/lists/"*' \
    "$SUITE" - | "${PODMAN[@]}" import --change 'CMD ["/nodejs/bin/node"]' - "$image" >/dev/null
  log "$image: built in $((SECONDS - started))s"
}
base build nodejs,npm,ca-certificates
base runtime nodejs,ca-certificates

# The registries are reached through this machine's CA store (it may hold a
# proxy's CA): mounted read-only into the build stage, never copied into an image.
log "$TAG: building from Dockerfile"
started=$SECONDS
"${PODMAN[@]}" build --network host \
  --volume /etc/ssl/certs:/etc/ssl/certs:ro \
  --build-arg BUILD_IMAGE="localhost/smart-router-base:build-$SUITE" \
  --build-arg RUNTIME_IMAGE="localhost/smart-router-base:runtime-$SUITE" \
  --build-arg NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
  -t "$TAG" "$ROOT" >&2
log "$TAG: built in $((SECONDS - started))s, $("${PODMAN[@]}" image inspect --format '{{.Size}}' "$TAG") bytes"
