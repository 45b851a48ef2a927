#!/usr/bin/env bash
# The monthly allocation over 1,000,000 generated persons, on SQLite and on PostgreSQL
# (BENCHMARKS.md). Usage: bench/allocation.sh [persons] [postgres-url]
set -euo pipefail
cd "$(dirname "$0")/.."
persons="${1:-1000000}"
pg="${2:-postgres://postgres@127.0.0.1:5432/test}"
cargo build --release --quiet
mkdir -p yibao-data
echo "== SQLite (synchronous=FULL)"
./target/release/yibao bench allocation --persons "$persons" --db yibao-data/bench-allocation.db
rm -f yibao-data/bench-allocation.db yibao-data/bench-allocation.db-wal yibao-data/bench-allocation.db-shm
echo "== PostgreSQL"
psql "$pg" -q -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS bench_allocation CASCADE; CREATE SCHEMA bench_allocation"
./target/release/yibao bench allocation --persons "$persons" --db "$pg?options=-csearch_path%3Dbench_allocation"
psql "$pg" -q -c "SET client_min_messages = warning; DROP SCHEMA bench_allocation CASCADE"
