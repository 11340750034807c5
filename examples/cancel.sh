#!/usr/bin/env bash
# Cancel a pending job at once, or stop a running one (202). A finished job answers 409.
#   examples/cancel.sh <job_id>
set -euo pipefail
source "$(dirname "$0")/_common.sh"
JOB="${1:?usage: cancel.sh <job_id>}"
api -X POST "$TRAINYARD_URL/v1/training-jobs/$JOB/cancel"
echo
