#!/usr/bin/env bash
# The hardening checks (docs/testing.md, "Fuzzing" and "Sanitizers"): a bounded fuzzing run, then
# the whole suite under ThreadSanitizer and AddressSanitizer, each build in its own
# scratch path. Several full rebuilds: allow 20+ minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export SWIFT_BACKTRACE=enable=no

step() {
  local started=$SECONDS
  echo "::: $*"
  "$@"
  echo "::: $((SECONDS - started)) s: $*"
}

# libFuzzer + AddressSanitizer over frames -> protobuf-c -> Core -> validation -> answer,
# 60 s from the committed seeds; any finding fails the run.
step dev/fuzz.sh 60

# ThreadSanitizer. Synchronization.Mutex locks under contention inside an uninstrumented
# library, which TSan cannot see: preload the annotations of .ci/tsan-mutex-annotations.c,
# or every contended Mutex is reported as a (false) race.
step swift build --build-tests --sanitize=thread --scratch-path .build-tsan
step "$(dirname "$(readlink -f "$(command -v swift)")")/clang" -O1 -shared -fPIC \
  .ci/tsan-mutex-annotations.c -o .build-tsan/libtsan-mutex-annotations.so -ldl
step env LD_PRELOAD="$PWD/.build-tsan/libtsan-mutex-annotations.so" \
  dev/test-in-passes.sh --sanitize=thread --scratch-path .build-tsan

# AddressSanitizer. Leak detection off: Foundation's Process objects, which the
# end-to-end tests use to run iriskd, are never freed. (The fuzzer checks leaks.)
step swift build --build-tests --sanitize=address --scratch-path .build-asan
step env ASAN_OPTIONS=detect_leaks=0 dev/test-in-passes.sh --sanitize=address --scratch-path .build-asan
