#!/usr/bin/env bash
# The crash harness (issue 7): a `yibao serve` child under load from 16 connections, killed with
# SIGKILL at a random moment and restarted, cycle after cycle; then every answered settlement must
# exist exactly once with the answer the client got, every in-doubt msgid sent again must return
# the stored answer, nothing may be half-applied and the ledger must replay exactly.
#
# Usage: bench/crash.sh [cycles] [more `yibao bench crash` options, e.g. --seed 42 --db postgres://…]
# CI runs the short form (20 cycles) on the debug build: YIBAO_PROFILE=debug bench/crash.sh 20
set -euo pipefail
cd "$(dirname "$0")/.."
cycles="${1:-100}"
shift || true
profile="${YIBAO_PROFILE:-release}"
case "$profile" in
  release) cargo build --release --quiet --bin yibao ;;
  debug) cargo build --quiet --bin yibao ;;
  *) echo "YIBAO_PROFILE is release or debug" >&2; exit 2 ;;
esac
mkdir -p yibao-data
exec "./target/$profile/yibao" bench crash --cycles "$cycles" "$@"
