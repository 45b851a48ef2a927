#!/usr/bin/env bash
# Regenerates the table in BENCHMARKS.md (between its `bench/run.sh` markers) on this machine:
# every yibao row and, in the same run, the references it is compared with — pgbench's
# tpcb-like against the same PostgreSQL, and the raw ceiling of durable batched inserts with
# rusqlite on the same disk. Then the long crash harness (100 kill -9 cycles).
# Takes about 15 minutes on 2 cores. Nothing else should run meanwhile.
# Usage: bench/run.sh [postgres-url]   (default postgres://postgres@127.0.0.1:5432/test)
set -euo pipefail
cd "$(dirname "$0")/.."
pg="${1:-postgres://postgres@127.0.0.1:5432/test}"
out=yibao-data/bench-run
# BENCH_QUICK=1: tiny sizes, to check the script itself; the table goes to $out/BENCHMARKS.md.
target=BENCHMARKS.md
persons=100000 persons_inproc=20000 persons_alloc=1000000 s_load=30 s_pg=60 s_short=20 s_ref=10 s_pgbench=30 cycles=100
if [ -n "${BENCH_QUICK:-}" ]; then
  persons=2000 persons_inproc=1000 persons_alloc=5000 s_load=2 s_pg=2 s_short=2 s_ref=2 s_pgbench=2 cycles=3
  target="$out/BENCHMARKS.md"
fi
mkdir -p "$out"
rm -f "$out"/*.txt
cargo build --release --quiet --bin yibao
yibao=./target/release/yibao

step() { # name, then the command: its output kept in $out/<name>.txt
  local name="$1"
  shift
  echo "== $name: $*"
  "$@" >"$out/$name.txt" 2>"$out/$name.err" || { cat "$out/$name.err" >&2; exit 1; }
  grep '^result ' "$out/$name.txt" || true
}
schema() { # a fresh schema in the PostgreSQL database; its URL
  psql "$pg" -q -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $1 CASCADE; CREATE SCHEMA $1" >&2
  echo "$pg?options=-csearch_path%3D$1"
}
drop_schema() { psql "$pg" -q -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $1 CASCADE"; }
sqlite() { # a fresh SQLite path of a benchmark
  rm -f "yibao-data/$1.db" "yibao-data/$1.db-wal" "yibao-data/$1.db-shm"
  echo "yibao-data/$1.db"
}

# References first, on a quiet machine.
step reference-sqlite "$yibao" bench reference-sqlite --rows-per-commit 100 --seconds "$s_ref"
pgdb=yibao_pgbench
psql "$pg" -q -c "DROP DATABASE IF EXISTS $pgdb" -c "CREATE DATABASE $pgdb"
pgbench_url="${pg%/*}/$pgdb"
pgbench -q -i -s 10 "$pgbench_url" >/dev/null 2>&1
echo "== pgbench: -b tpcb-like -c 16 -j 2 -T 30"
pgbench -b tpcb-like -c 16 -j 2 -T "$s_pgbench" "$pgbench_url" >"$out/pgbench.txt" 2>&1
grep -E '^tps' "$out/pgbench.txt"
psql "$pg" -q -c "DROP DATABASE $pgdb"

step pricing-20 "$yibao" bench pricing --lines 20 --seconds "$s_ref"
step pricing-200 "$yibao" bench pricing --lines 200 --seconds "$s_ref"

step load-sqlite "$yibao" bench load --persons "$persons" --seconds "$s_load" --concurrency 64 --db "$(sqlite bench-load)"
step queries-sqlite "$yibao" bench load --persons "$persons" --seconds "$s_short" --concurrency 64 --mix queries --db "$(sqlite bench-load)"
step inprocess-sqlite "$yibao" bench inprocess --persons "$persons_inproc" --seconds "$s_short" --concurrency 256 --db "$(sqlite bench-inprocess)"
step load-postgres "$yibao" bench load --persons "$persons" --seconds "$s_pg" --concurrency 64 --db "$(schema bench_load)"
drop_schema bench_load
step inprocess-postgres "$yibao" bench inprocess --persons "$persons_inproc" --seconds "$s_short" --concurrency 256 --db "$(schema bench_inprocess)"
drop_schema bench_inprocess

step allocation-sqlite "$yibao" bench allocation --persons "$persons_alloc" --db "$(sqlite bench-allocation)"
step allocation-postgres "$yibao" bench allocation --persons "$persons_alloc" --db "$(schema bench_allocation)"
drop_schema bench_allocation
step memory-1m "$yibao" bench load --persons "$persons_alloc" --seconds "$s_short" --concurrency 64 --db "$(sqlite bench-allocation)"
rm -f yibao-data/bench-allocation.db* yibao-data/bench-load.db* yibao-data/bench-inprocess.db*

step crash-100 "$yibao" bench crash --cycles "$cycles" --seed 20261129 --db "$(sqlite bench-crash)"
tail -n 3 "$out/crash-100.txt"

[ "$target" = BENCHMARKS.md ] || cp BENCHMARKS.md "$target"
python3 bench/table.py "$out" "$target"
echo "$target updated from $out"
