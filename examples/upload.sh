#!/usr/bin/env bash
# Upload a data file into the server's data root (multipart field "file"); the answer says
# which path to use in data_source_config.path.
#   examples/upload.sh examples/houses.csv
set -euo pipefail
source "$(dirname "$0")/_common.sh"
FILE="${1:?usage: upload.sh <file>}"
api -X POST "$TRAINYARD_URL/v1/datasets" -F "file=@$FILE"
echo
