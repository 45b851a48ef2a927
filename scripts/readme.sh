#!/usr/bin/env bash
# Runs the README's commands as written, with the given yibao binary on the PATH, in a scratch
# directory (so ./yibao-data is its own): the policy check, the demo served and its landing
# page fetched, an allocation, the reminders, a year end, and serving with another policy.
# Usage: scripts/readme.sh [path/to/yibao]   (default: target/release/yibao, built if missing)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
binary=${1:-$repo/target/release/yibao}
if [ ! -x "$binary" ]; then
  (cd "$repo" && cargo build --release --locked -q)
  binary=$repo/target/release/yibao
fi
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
scratch=$(mktemp -d)
bin="$scratch/bin"
mkdir -p "$bin"
ln -s "$binary" "$bin/yibao"
export PATH="$bin:$PATH"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT
step() { printf '== %s\n' "$*"; }

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
serve_until_up() {
  local listen=$1; shift
  yibao "$@" --listen "$listen" >"$scratch/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1 300); do
    if curl -fsS --max-time 2 "http://$listen/healthz" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$server" 2>/dev/null; then cat "$scratch/serve.log"; return 1; fi
    sleep 0.1
  done
  echo "yibao did not answer on $listen"; cat "$scratch/serve.log"; return 1
}
stop() {
  if ! kill "$server" 2>/dev/null; then
    echo "yibao had stopped by itself:"; cat "$scratch/serve.log"; return 1
  fi
  wait "$server" 2>/dev/null || true
  server=""
}
# A page saved, then searched (a pipe into grep -q could cut curl off mid-answer).
fetch_has() {
  curl -fsS --max-time 10 -o "$scratch/page" "$1"
  grep -q "$2" "$scratch/page"
}

step "yibao policy check policies/*.toml"
(cd "$repo" && yibao policy check policies/*.toml)

cd "$scratch"
cp -r "$repo/policies" "$scratch/policies"

step "yibao serve --demo (and its landing page)"
listen="127.0.0.1:$(port)"
serve_until_up "$listen" serve --demo
fetch_has "http://$listen/" "服务台"
fetch_has "http://$listen/api/v1/openapi.json" '"openapi"'
stop

last_month=$(date -u -d "$(date -u +%Y-%m-01) -1 day" +%Y-%m)
step "yibao allocate --demo --month $last_month"
yibao allocate --demo --month "$last_month"

step "yibao remind --demo"
yibao remind --demo

last_year=$(( $(date -u +%Y) - 1 ))
step "yibao close-year --demo --year $last_year"
yibao close-year --demo --year "$last_year"

step "yibao serve --policy policies/hangzhou-resident-2021.toml"
export YIBAO_SECRET=readme-script-secret-of-at-least-32-characters
listen="127.0.0.1:$(port)"
serve_until_up "$listen" serve --policy policies/hangzhou-resident-2021.toml
stop

echo "README commands: all ran"
