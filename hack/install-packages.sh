#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo run for real
# (redis-server; nginx for the WebSocket ingress test) when they are missing.
set -euo pipefail
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v curl >/dev/null || missing+=(curl)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]} from Debian"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages start system services we do not use: tests run their own instances.
for svc in redis-server nginx; do $SUDO service "$svc" stop >/dev/null 2>&1 || true; done
