#!/usr/bin/env bash
# Runs every fuzz target for a while (default 600 s each), then minimises its corpus.
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Usage: fuzz/run.sh [seconds-per-target] [target…]
# Crashes land in fuzz/artifacts/<target>/; the corpora in fuzz/corpus/<target>/ are replayed by
# `cargo test` (crates/server/tests/fuzz_corpora.rs), so commit what this adds to them.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(envelope money id_number policy_file ec_code)
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  echo "== $target: ${seconds} s"
  cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -print_final_stats=1 2>&1 \
    | grep -E "^(#[0-9]+ +DONE|stat::|==[0-9]+==|SUMMARY|Done )" || true
  [ -z "$(ls -A "artifacts/$target" 2>/dev/null)" ] || { echo "$target: crash, see fuzz/artifacts/$target"; exit 1; }
  cargo +nightly fuzz cmin "$target" "corpus/$target" >/dev/null 2>&1
  echo "   corpus: $(ls "corpus/$target" | wc -l) inputs after minimising"
done
