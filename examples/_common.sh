# Shared by the example scripts: the server URL and, when set, the API key.
# TRAINYARD_URL (default http://127.0.0.1:8000), TRAINYARD_API_KEY (optional).
TRAINYARD_URL="${TRAINYARD_URL:-http://127.0.0.1:8000}"
TRAINYARD_URL="${TRAINYARD_URL%/}"
AUTH=()
if [ -n "${TRAINYARD_API_KEY:-}" ]; then
  AUTH=(-H "Authorization: Bearer ${TRAINYARD_API_KEY}")
fi
# curl that prints the body (also of an error: a problem+json document) and fails on 4xx/5xx.
api() { curl -sS --fail-with-body "${AUTH[@]}" "$@"; }
# One field of the JSON document on stdin.
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
