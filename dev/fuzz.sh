#!/usr/bin/env bash
# Fuzzes the request path (frames -> protobuf-c unpack -> Core -> validation -> response)
# with libFuzzer and AddressSanitizer, for SECONDS (default 60).
#
#   dev/fuzz.sh [SECONDS] [more libFuzzer flags, e.g. -jobs=2 -workers=2]
#
# Builds Sources/irisk-fuzz with -sanitize=fuzzer,address into .build-fuzz (kept apart
# from .build), starts from the committed seeds in Fuzz/corpus, and keeps what it learns
# in .build-fuzz/corpus (reused by the next run). A finding (crash, sanitizer report,
# leak, timeout over 5 s, RSS over 2 GiB) is written to fuzz-artifacts/ and makes the
# script exit non-zero; reproduce it with:
#   .build-fuzz/debug/irisk-fuzz fuzz-artifacts/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
[ $# -gt 0 ] && shift
export SWIFT_BACKTRACE=enable=no
flags=(--scratch-path .build-fuzz --product irisk-fuzz
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DIRISK_FUZZ -Xswiftc -use-ld=lld
  -Xcc -fsanitize=fuzzer-no-link,address)
swift build "${flags[@]}"
binary="$(swift build "${flags[@]}" --show-bin-path)/irisk-fuzz"
mkdir -p .build-fuzz/corpus fuzz-artifacts
echo "fuzzing for ${seconds}s: $binary"
"$binary" .build-fuzz/corpus Fuzz/corpus \
  -max_total_time="$seconds" -max_len=70000 -timeout=5 -rss_limit_mb=2048 \
  -artifact_prefix=fuzz-artifacts/ -print_final_stats=1 "$@"
