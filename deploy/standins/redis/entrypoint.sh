#!/bin/sh
# As the official image: a bare `redis-server ...` runs as the redis user with protected
# mode off (other containers connect over the network), in /data.
set -e
if [ "${1#-}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = "redis-server" ]; then
  shift
  if [ "$(id -u)" = 0 ]; then
    chown -R redis:redis /data
    exec setpriv --reuid=redis --regid=redis --init-groups redis-server --protected-mode no "$@"
  fi
  exec redis-server --protected-mode no "$@"
fi
exec "$@"
