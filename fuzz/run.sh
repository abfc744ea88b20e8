#!/usr/bin/env bash
# Runs one fuzz target: ./run.sh TARGET SECONDS [RUNS [CORPUS_DIR]]. Stops at RUNS executions
# (default 10 million) or SECONDS, whichever comes first; new inputs join CORPUS_DIR (default
# corpus/TARGET); crashes go to artifacts/TARGET. Prints libFuzzer's final statistics (executions, peak RSS).
# Needs cargo-fuzz (cargo install cargo-fuzz); on a stable toolchain RUSTC_BOOTSTRAP=1 lets it
# pass the sanitizer flags.
set -euo pipefail
cd "$(dirname "$0")"
target=$1 seconds=$2 runs=${3:-10000000} corpus=${4:-corpus/$1}
mkdir -p "$corpus" "artifacts/$target"
case $target in
  policy|kritis|scan_report|admission_review|attestation) max_len=262144 ;;  # huge documents
  *) max_len=65536 ;;
esac
# seeds/TARGET: hand-made and regression inputs (deep nesting, alias bombs, past findings),
# replayed on every run and never minimised away.
seeds=()
[ -d "seeds/$target" ] && seeds=("seeds/$target")
RUSTC_BOOTSTRAP=1 exec cargo fuzz run -O "$target" "$corpus" "${seeds[@]}" -- \
  -runs="$runs" -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 \
  -timeout=10 -print_final_stats=1 -artifact_prefix="artifacts/$target/"
