#!/usr/bin/env bash
# Print the training processes' logs of a job (text; the traceback when it failed).
#   examples/logs.sh <job_id>
set -euo pipefail
source "$(dirname "$0")/_common.sh"
JOB="${1:?usage: logs.sh <job_id>}"
api "$TRAINYARD_URL/v1/training-jobs/$JOB/logs"
