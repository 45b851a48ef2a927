#!/usr/bin/env bash
# Schemathesis (PyPI) against the REST API's OpenAPI document, on a demo server of its own:
# no 5xx, every response as the document describes (status code, content type, schema).
# Usage: scripts/schemathesis.sh [max-examples per operation] [more `st run` options]
# Installs schemathesis with pip when `st` is missing. CI runs it (.ci/run). One worker:
# with two, hypothesis's lambda-source cache sometimes fails inside schemathesis itself
# ("AST constructor recursion depth mismatch"), which says nothing about the server.
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-25}"
shift || true
profile="${YIBAO_PROFILE:-debug}"
command -v st >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
case "$profile" in
  release) cargo build --release --quiet --bin yibao ;;
  *) cargo build --quiet --bin yibao ;;
esac
work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"./target/$profile/yibao" serve --demo --db "$work/demo.db" --listen 127.0.0.1:0 >"$work/out" 2>"$work/log" &
server_pid=$!
for _ in $(seq 1 600); do
  grep -q "listening on" "$work/out" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/log" >&2; echo "the server did not start" >&2; exit 1; }
  sleep 0.1
done
base=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/out" | head -n 1)
[ -n "$base" ] || { echo "the server did not start" >&2; exit 1; }
login() { # role, then username or id_number: a bearer token
  python3 - "$base" "$1" "$2" <<'PY'
import json, sys, urllib.request
base, role, who = sys.argv[1:4]
fields = {"role": role, "password": "Demo@2026", ("username" if role == "operator" else "id_number"): who}
request = urllib.request.Request(base + "/api/v1/auth/login", method="POST", data=json.dumps(fields).encode(),
    headers={"content-type": "application/json"})
print(json.load(urllib.request.urlopen(request))["token"])
PY
}
# The first demo person with the shared portal password (赵敏 has only an initial password).
person=$(sed -n '/^demo insured persons/,/^$/p' "$work/out" | grep -v 赵敏 | awk 'NR == 2 {print $1}')
status=0
run() { # a token, then filters
  local token="$1"
  shift
  st run "$base/api/v1/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$examples" --seed 20261129 --workers 1 \
    --suppress-health-check all --no-color "${extra[@]}" "$@" || status=1
}
extra=("$@")
echo "== schemathesis against $base: an operator's session, $examples examples per operation"
run "$(login operator admin)" --exclude-path /api/v1/auth/logout --exclude-path /api/v1/me/password
echo "== an insured person's session ($person): their own pages"
run "$(login person "$person")" --include-path-regex '^/api/v1/(me|evoucher/|persons/|cards/|settlements/)'
echo "== the calls that end or change a session"
run "$(login operator admin)" --include-path /api/v1/auth/logout --include-path /api/v1/me/password
if grep -q "panicked" "$work/log"; then
  echo "the server panicked:" >&2; grep -A3 "panicked" "$work/log" >&2; status=1
fi
exit $status
