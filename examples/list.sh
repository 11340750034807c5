#!/usr/bin/env bash
# List jobs, newest first. Extra arguments become query parameters:
#   examples/list.sh                      # the latest 100
#   examples/list.sh status=completed limit=10 model_name=iris-classifier
set -euo pipefail
source "$(dirname "$0")/_common.sh"
query=()
for pair in "$@"; do query+=(--data-urlencode "$pair"); done
api -G "$TRAINYARD_URL/v1/training-jobs" "${query[@]}"
echo
