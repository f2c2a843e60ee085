#!/usr/bin/env bash
# Installs what is missing, builds everything (the end-to-end tests run the built
# iriskd and irisk binaries), and runs the whole test suite, bounded by a watchdog
# (IRISK_TEST_TIMEOUT seconds, default 900; see dev/swift-test-watchdog.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
dev/setup.sh --for-tests
swift build --build-tests
dev/swift-test-watchdog.sh "$@"
