#!/usr/bin/env bash
# Fuzzes the checkpoint reader and restores (fuzz/, cargo-fuzz with libFuzzer).
#
#   scripts/fuzz.sh [SECONDS]             both targets, SECONDS each (default 60)
#   scripts/fuzz.sh run TARGET [SECONDS]  one target: checkpoint_reader or restore
#   scripts/fuzz.sh ci                    the short run CI does: both targets, 20 s each
#   scripts/fuzz.sh seeds                 rewrites fuzz/seeds/ from statekit's writer
#   scripts/fuzz.sh build                 installs cargo-fuzz if needed and builds
#
# cargo fuzz passes nightly-only flags to rustc; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain take them. FUZZ_SANITIZER picks the sanitizer (default none: over ten
# times the executions a second of address, whose runtime the stable toolchain
# ships; the core's unsafe code is also checked by its tests). One fuzzing process
# a target. Extra libFuzzer flags go in FUZZ_ARGS, e.g. FUZZ_ARGS="-runs=10000000".
#
# The corpus each run grows is fuzz/corpus/TARGET (not committed); the committed seeds
# are fuzz/seeds/TARGET. A crash is written to fuzz/artifacts/TARGET/ and fails the
# run; add it to the seeds once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
TARGETS=(checkpoint_reader restore)
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
SANITIZER="${FUZZ_SANITIZER:-none}"

install() {
  if [[ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
    echo "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --locked "cargo-fuzz@$CARGO_FUZZ_VERSION"
  fi
  if ! command -v c++ >/dev/null; then
    echo "libFuzzer needs a C++ compiler (c++ on the PATH)" >&2
    exit 1
  fi
}

build() {
  install
  cargo fuzz build -O --sanitizer "$SANITIZER"
}

# Longest input per target: checkpoints in the seeds are a few hundred bytes.
max_len() {
  case "$1" in
    restore) echo 8192 ;;
    *) echo 16384 ;;
  esac
}

run() {
  local target="$1" seconds="$2"
  mkdir -p "fuzz/corpus/$target"
  local log
  log="$(mktemp)"
  echo "=== fuzz $target for ${seconds}s (sanitizer $SANITIZER)"
  local status=0
  # shellcheck disable=SC2086
  cargo fuzz run -O --sanitizer "$SANITIZER" "$target" \
    "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -max_len="$(max_len "$target")" -rss_limit_mb=2048 \
    -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb|Done)' "$log" || true
  if [[ "$status" != 0 ]]; then
    grep -E -A30 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -80 || tail -80 "$log"
    echo "fuzz $target FAILED (exit $status); the input is in fuzz/artifacts/$target/" >&2
    rm -f "$log"
    return "$status"
  fi
  rm -f "$log"
}

case "${1:-all}" in
  build) build ;;
  seeds)
    cargo run --manifest-path fuzz/Cargo.toml --example make_seeds -- fuzz/seeds
    ;;
  run)
    target="${2:?which target: ${TARGETS[*]}}"
    build
    run "$target" "${3:-60}"
    ;;
  ci)
    build
    for t in "${TARGETS[@]}"; do run "$t" 20; done
    ;;
  all | [0-9]*)
    seconds=60
    [[ "${1:-all}" != all ]] && seconds="$1"
    build
    for t in "${TARGETS[@]}"; do run "$t" "$seconds"; done
    ;;
  *)
    sed -n '2,18p' "$0"
    exit 64
    ;;
esac
