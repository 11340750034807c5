#!/usr/bin/env bash
# Stand-ins for the base images docker-compose.yml and the Dockerfile name, for machines that
# reach no image registry. For each image: present already -> nothing to do; `docker pull`
# works -> the official image; otherwise build a stand-in under the official name from a
# Debian bookworm root made by debootstrap. docs/deployment.md lists how each differs.
#
#   deploy/standins/build.sh            # every image the project needs
#   deploy/standins/build.sh --rebuild  # rebuild the stand-ins (keeps Docker's layer cache)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
MLFLOW_VERSION="${MLFLOW_VERSION:-v3.5.0}"
BASE=trainyard-standin/debian:bookworm
ROOTFS=trainyard-standin/rootfs:bookworm
# official name -> stand-in directory, in build order (mlflow builds on python).
IMAGES=(
  "python:3.11-slim python"
  "postgres:16-alpine postgres"
  "redis:7-alpine redis"
  "ghcr.io/mlflow/mlflow:${MLFLOW_VERSION} mlflow"
)
REBUILD=0
[[ "${1:-}" == "--rebuild" ]] && REBUILD=1

log() { printf '[standins %(%H:%M:%S)T] %s\n' -1 "$*"; }
present() { docker image inspect "$1" >/dev/null 2>&1; }
is_standin() { [[ "$(docker image inspect -f '{{ index .Config.Labels "org.trainyard.standin" }}' "$1" 2>/dev/null)" == "1" ]]; }

# A build context: the stand-in's own files plus what this machine needs to reach its
# registries (CA bundle, apt sources and options); nothing else of the host.
context() {
  local dir
  dir="$(mktemp -d)"
  cp -r "$HERE/$1/." "$dir/"
  mkdir -p "$dir/host/apt/sources.list.d" "$dir/host/apt/apt.conf.d"
  cp /etc/ssl/certs/ca-certificates.crt "$dir/host/ca-certificates.crt"
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    cp /etc/apt/sources.list.d/*.sources "$dir/host/apt/sources.list.d/"
  fi
  [[ -s /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$dir/host/apt/sources.list"
  # Only the Acquire options (e.g. Check-Valid-Until for a snapshot mirror).
  grep -hs '^Acquire::' /etc/apt/apt.conf.d/* >"$dir/host/apt/apt.conf.d/90host" || true
  echo "$dir"
}

build() {  # build NAME DIR [--build-arg ...]
  local name="$1" dir="$2" ctx
  shift 2
  ctx="$(context "$dir")"
  log "building $name from deploy/standins/$dir"
  docker build --quiet --label org.trainyard.standin=1 --tag "$name" "$@" "$ctx" >/dev/null
  rm -rf "$ctx"
}

rootfs() {
  present "$ROOTFS" && return
  command -v debootstrap >/dev/null || {
    log "installing debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  local dir
  dir="$(mktemp -d /var/tmp/trainyard-rootfs.XXXXXX)"
  log "debootstrap --variant=minbase bookworm ($MIRROR)"
  debootstrap --variant=minbase bookworm "$dir" "$MIRROR" >"$dir.log" 2>&1 \
    || { tail -20 "$dir.log"; exit 1; }
  log "docker import $ROOTFS"
  tar -C "$dir" -c . | docker import --change 'CMD ["bash"]' - "$ROOTFS" >/dev/null
  rm -rf "$dir" "$dir.log"
}

base() {
  if ((REBUILD)) || ! present "$BASE"; then
    rootfs
    build "$BASE" base
  fi
}

start=$SECONDS
for entry in "${IMAGES[@]}"; do
  read -r name dir <<<"$entry"
  if present "$name" && ! { ((REBUILD)) && is_standin "$name"; }; then
    log "$name: present$(is_standin "$name" && echo ' (stand-in)')"
    continue
  fi
  if ! ((REBUILD)) && timeout 30 docker pull --quiet "$name" >/dev/null 2>&1; then
    log "$name: pulled the official image"
    continue
  fi
  base
  build "$name" "$dir" --build-arg "MLFLOW_VERSION=${MLFLOW_VERSION#v}"
done
log "done in $((SECONDS - start)) s"
