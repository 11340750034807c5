#!/usr/bin/env bash
# Poll a job until it ends; prints status, stage and progress as they change, then the metrics.
# Exits 0 when the job completed, 1 when it failed or was cancelled.
#   examples/poll.sh <job_id>
set -euo pipefail
source "$(dirname "$0")/_common.sh"
JOB="${1:?usage: poll.sh <job_id>}"
INTERVAL="${POLL_INTERVAL:-1}"
last=""
while true; do
  body=$(api "$TRAINYARD_URL/v1/training-jobs/$JOB")
  line=$(printf '%s' "$body" | python3 -c '
import json, sys
job = json.load(sys.stdin)
print(job["status"], job["stage"], "%.0f%%" % job["progress"])')
  if [ "$line" != "$last" ]; then echo "$line"; last="$line"; fi
  status=${line%% *}
  case "$status" in
    completed)
      printf '%s' "$body" | python3 -c '
import json, sys
job = json.load(sys.stdin)
for name, value in sorted((job.get("metrics") or {}).items()):
    print(f"  {name} = {value:.4f}")'
      exit 0 ;;
    failed|cancelled)
      printf '%s' "$body" | python3 -c '
import json, sys
job = json.load(sys.stdin)
print("  " + (job.get("message") or ""))'
      exit 1 ;;
  esac
  sleep "$INTERVAL"
done
