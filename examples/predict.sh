#!/usr/bin/env bash
# Predict with a completed job's model on raw rows ({"rows": [{column: value}, ...]}).
#   examples/predict.sh <job_id> [rows.json]       # default: examples/iris-rows.json
set -euo pipefail
source "$(dirname "$0")/_common.sh"
JOB="${1:?usage: predict.sh <job_id> [rows.json]}"
ROWS="${2:-$(dirname "$0")/iris-rows.json}"
api -X POST "$TRAINYARD_URL/v1/training-jobs/$JOB/predictions" \
  -H 'Content-Type: application/json' \
  --data-binary "@$ROWS"
echo
