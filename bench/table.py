#!/usr/bin/env python3
"""Builds BENCHMARKS.md's table from a bench/run.sh output directory (its `result` lines, the
pgbench output and the crash harness's summary) and puts it between the file's markers."""
import json, os, re, subprocess, sys

out, target = sys.argv[1], sys.argv[2]

def result(name, **match):
    with open(os.path.join(out, name + ".txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("result "):
                value = json.loads(line[len("result "):])
                if all(value.get(k) == v for k, v in match.items()):
                    return value
    raise SystemExit(f"{name}: no result line matching {match}")

def text(name):
    with open(os.path.join(out, name + ".txt"), encoding="utf-8") as f:
        return f.read()

def n(value):
    return f"{value:,}"

def ms(micros):
    return f"{micros / 1000:.1f}"

def ratio(a, b):
    return f"{a / b:.3g}×" if b else "—"

def sh(*command):
    try:
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return "?"

reference = result("reference-sqlite")
rows, commits = reference["rows_per_s"], reference["commits_per_s"]
tps_match = re.search(r"^tps = ([0-9.]+) \(without initial connection time\)", text("pgbench"), re.M)
tps = round(float(tps_match.group(1))) if tps_match else 0
load_sqlite, load_pg = result("load-sqlite"), result("load-postgres")
queries = result("queries-sqlite")
inproc_sqlite, inproc_pg = result("inprocess-sqlite"), result("inprocess-postgres")
alloc_sqlite = result("allocation-sqlite", run="first run")
alloc_pg = result("allocation-postgres", run="first run")
pricing20, pricing200 = result("pricing-20"), result("pricing-200")
memory = result("memory-1m")
crash = text("crash-100")
checked = re.search(r"^checked: ([0-9]+) messages.*?; ([0-9]+) settlements \(([0-9]+) cancelled\)", crash, re.M)
doubt = re.search(r"^in doubt: ([0-9]+) messages \(([0-9]+) had been applied", crash, re.M)
passed = "crash harness passed" in crash

cpu = sh("sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")
machine = f"{os.cpu_count()} vCPU ({cpu.strip()}), {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB"
pg_version = sh("psql", "postgres://postgres@127.0.0.1:5432/test", "-tAc", "SHOW server_version")
commit = sh("git", "rev-parse", "--short", "HEAD")
day = sh("date", "+%Y-%m-%d")

def load_cell(r):
    return f"**{n(r['settlements_per_s'])}** (p50 {ms(r['p50_us'])} / p99 {ms(r['p99_us'])} / p99.9 {ms(r['p999_us'])} ms, {r['refused']} refused)"

lines = [
    f"Run {day}, commit {commit}, on {machine}; PostgreSQL {pg_version} on the same machine; SQLite WAL, `synchronous=FULL`.",
    "",
    f"References measured in the same run: **raw rusqlite**, durable batched inserts on the same disk (`yibao bench reference-sqlite`, 100 rows a commit): **{n(rows)} rows/s**, {n(commits)} commits/s; **pgbench** `-b tpcb-like -c 16 -j 2 -T 30`, scale 10, same PostgreSQL: **{n(tps)} tps**.",
    "",
    "| row (command) | yibao | reference | ratio |",
    "|---|---:|---:|---:|",
    f"| settlements/s over HTTP, SQLite (`bench load --persons 100000 --seconds 30 --concurrency 64`) — target ≥ 10,000, p99 ≤ 20 ms | {load_cell(load_sqlite)} | {n(rows)} raw rows/s; {n(commits)} raw commits/s | {ratio(load_sqlite['settlements_per_s'], rows)} of raw rows; {ratio(load_sqlite['settlements_per_s'], commits)} of raw commits |",
    f"| settlements/s over HTTP, PostgreSQL (same, `--seconds 60`) — target ≥ 5,000 | {load_cell(load_pg)} | {n(tps)} pgbench tps | {ratio(load_pg['settlements_per_s'], tps)} |",
    f"| settlements/s in-process, SQLite (`bench inprocess --persons 20000 --seconds 20 --concurrency 256`) | **{n(inproc_sqlite['settlements_per_s'])}** (p99 {ms(inproc_sqlite['p99_us'])} ms) | {n(rows)} raw rows/s | {ratio(inproc_sqlite['settlements_per_s'], rows)} |",
    f"| settlements/s in-process, PostgreSQL (same) | **{n(inproc_pg['settlements_per_s'])}** (p99 {ms(inproc_pg['p99_us'])} ms) | {n(tps)} pgbench tps | {ratio(inproc_pg['settlements_per_s'], tps)} |",
    f"| 1101 person queries/s over HTTP, SQLite (`bench load --mix queries --seconds 20`) | **{n(queries['messages_per_s'])}** (p50 {ms(queries['p50_us'])} / p99 {ms(queries['p99_us'])} ms) | — | — |",
    f"| monthly allocation of 1 M accounts, SQLite (`bench allocation --persons 1000000`) | **{alloc_sqlite['millis'] / 1000:.1f} s** ({n(alloc_sqlite['persons_per_s'])} persons/s) | {n(rows)} raw rows/s | {ratio(alloc_sqlite['persons_per_s'], rows)} |",
    f"| monthly allocation of 1 M accounts, PostgreSQL (same) | **{alloc_pg['millis'] / 1000:.1f} s** ({n(alloc_pg['persons_per_s'])} persons/s) | {n(tps)} pgbench tps | {ratio(alloc_pg['persons_per_s'], tps)} |",
    f"| policy pricing, lines/s on one core (`bench pricing --lines 20`; 200-line bills: {n(pricing200['lines_per_s'])}) — target ≥ 1,000,000 | **{n(pricing20['lines_per_s'])}** | target 1,000,000 | {ratio(pricing20['lines_per_s'], 1_000_000)} |",
    f"| server memory (peak RSS of `yibao serve`) with {n(memory['persons'])} insured persons, under the settlement load for 20 s | **{memory['server_peak_mib']} MiB** | — | — |",
]
if checked and doubt:
    lines.append(
        f"| crash harness, long form (`bench crash --cycles 100 --seed 20261129`) | **{'passed' if passed else 'FAILED'}**: {n(int(checked.group(1)))} messages answered, {n(int(checked.group(2)))} settlements ({n(int(checked.group(3)))} cancelled), {n(int(doubt.group(1)))} in doubt ({n(int(doubt.group(2)))} applied before the kill) | — | — |"
    )
table = "\n".join(lines)

with open(target, encoding="utf-8") as f:
    document = f.read()
begin, end = "<!-- bench/run.sh: begin -->", "<!-- bench/run.sh: end -->"
if begin not in document or end not in document:
    raise SystemExit(f"{target}: the markers {begin} … {end} are missing")
head, rest = document.split(begin, 1)
_, tail = rest.split(end, 1)
with open(target, "w", encoding="utf-8") as f:
    f.write(head + begin + "\n" + table + "\n" + end + tail)
