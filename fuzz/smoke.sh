#!/usr/bin/env bash
# CI's short pass over every fuzz target: builds them (cargo-fuzz, installed if missing), then
# runs each for SECONDS (default 15) starting from its committed corpus, so every saved input
# is replayed and a few more are tried. Fails on any crash, panic, timeout or memory blow-up.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-15}
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz@0.13.2
RUSTC_BOOTSTRAP=1 cargo fuzz build -O
for t in $(RUSTC_BOOTSTRAP=1 cargo fuzz list); do
  echo "fuzz smoke: $t"
  # A scratch copy: the smoke pass must not grow the committed corpus.
  scratch=$(mktemp -d)
  cp -r "corpus/$t/." "$scratch/"
  log="$scratch.log"
  status=0
  ./run.sh "$t" "$seconds" 100000000 "$scratch" >"$log" 2>&1 || status=$?
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|ERROR|panicked|SUMMARY" "$log" || true
  [ "$status" -eq 0 ] || tail -40 "$log" >&2
  rm -rf "$scratch" "$log"
  if [ "$status" -ne 0 ]; then
    echo "fuzz smoke: $t FAILED (see fuzz/artifacts/$t)" >&2
    exit 1
  fi
done
