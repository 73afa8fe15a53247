#!/usr/bin/env bash
# Journey "Login and add a note" (01JEXP0RT0000000000000000J), exported by Ghost: 4 requests.
# Run: bash THIS_FILE (override any variable below from the environment).
set -euo pipefail

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

check_status() {  # step, expected, actual
  if [ "$3" != "$2" ]; then
    echo "step $1: expected status $2, got $3" >&2
    exit 1
  fi
}

check_redirected() {  # step, actual: a recorded redirect was followed (-L) to a success
  if [ "$2" -ge 400 ] || [ "$2" -lt 200 ]; then
    echo "step $1: expected the redirect to end in success, got $2" >&2
    exit 1
  fi
}

json_value() {  # file, JSON list of keys: the value there, without jq
  python3 -c 'import json, sys
value = json.load(open(sys.argv[1], encoding="utf-8"))
for key in json.loads(sys.argv[2]):
    value = value[key]
print(value if isinstance(value, str) else json.dumps(value))' "$1" "$2"
}

header_value() {  # file, lowercase header name: its last value
  sed -n 's/^'"$2"':[[:space:]]*//Ip' "$1" | tr -d '\r' | tail -n 1
}

check_keys() {  # step, file, JSON list of keys, object|each: the JSON body (or each element) has them
  if ! python3 -c 'import json, sys
body = json.load(open(sys.argv[1], encoding="utf-8"))
keys = json.loads(sys.argv[2])
items = body if sys.argv[3] == "each" else [body]
sys.exit(0 if isinstance(items, list) and (sys.argv[3] == "each" or isinstance(body, dict))
         and all(isinstance(i, dict) and all(k in i for k in keys) for i in items) else 1)' "$2" "$3" "$4"; then
    echo "step $1: the response body lacks some of the keys $3" >&2
    exit 1
  fi
}

BASE_URL="${BASE_URL:-http://127.0.0.1:8080}"
PASSWORD="${PASSWORD:-secret}"

# Step 1 — POST /api/auth
status="$(curl -sS -o "$work/body-1" \
  -D "$work/headers-1" \
  -w '%{http_code}' \
  -b "$work/cookies" -c "$work/cookies" \
  -X 'POST' \
  "${BASE_URL}"'/api/auth' \
  -H 'Accept: application/json' \
  -H 'Content-Type: application/json' \
  --data-binary '{"username":"alice","password":"'"${PASSWORD}"'"}')"
check_status 1 200 "$status"
check_keys 1 "$work/body-1" '["token"]' object
# TOKEN: handed out by step 1 (JSON body ["token"]), sent back by later steps
TOKEN="$(json_value "$work/body-1" '["token"]')"

# Step 2 — GET /api/items
status="$(curl -sS -o "$work/body-2" \
  -D "$work/headers-2" \
  -w '%{http_code}' \
  -b "$work/cookies" -c "$work/cookies" \
  "${BASE_URL}"'/api/items' \
  -H 'Accept: application/json' \
  -H 'Authorization: Bearer '"${TOKEN}")"
check_status 2 200 "$status"
check_keys 2 "$work/body-2" '["id", "name"]' each

# Step 3 — POST /api/notes
status="$(curl -sS -o "$work/body-3" \
  -D "$work/headers-3" \
  -w '%{http_code}' \
  -b "$work/cookies" -c "$work/cookies" \
  -X 'POST' \
  "${BASE_URL}"'/api/notes' \
  -H 'Accept: application/json' \
  -H 'Authorization: Bearer '"${TOKEN}" \
  -H 'Content-Type: application/json' \
  --data-binary '{"title":"Buy milk"}')"
check_status 3 201 "$status"
check_keys 3 "$work/body-3" '["id", "title"]' object
# LOCATION: handed out by step 3 (response header location), sent back by later steps
LOCATION="$(header_value "$work/headers-3" 'location')"

# Step 4 — GET {LOCATION}
status="$(curl -sS -o "$work/body-4" \
  -D "$work/headers-4" \
  -w '%{http_code}' \
  -b "$work/cookies" -c "$work/cookies" \
  "${BASE_URL}""${LOCATION}" \
  -H 'Accept: application/json' \
  -H 'Authorization: Bearer '"${TOKEN}")"
check_status 4 200 "$status"
check_keys 4 "$work/body-4" '["id", "title"]' object

echo "journey passed: all steps answered as recorded"
