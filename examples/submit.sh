#!/usr/bin/env bash
# Submit a training job from a JSON file; prints the job's status document (202 Accepted).
#   examples/submit.sh examples/iris.json
#   JOB=$(examples/submit.sh examples/iris.json | python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
set -euo pipefail
source "$(dirname "$0")/_common.sh"
FILE="${1:-$(dirname "$0")/iris.json}"
api -X POST "$TRAINYARD_URL/v1/training-jobs" \
  -H 'Content-Type: application/json' \
  --data-binary "@$FILE"
echo
