#!/usr/bin/env bash
# Installs what is missing, builds everything (the end-to-end tests run the built
# iriskd and irisk binaries), and runs the whole test suite, bounded by a watchdog
# (IRISK_TEST_TIMEOUT seconds, default 900; see dev/swift-test-watchdog.sh), in two
# passes (dev/test-in-passes.sh says why). Arguments go to `swift test` instead, in
# one pass: e.g. `dev/test.sh --filter CLITests`.
# Without IRISK_TEST_POSTGRES_URL it runs itself again inside a throwaway PostgreSQL
# cluster (dev/with-postgres.sh), so the PostgreSQL store's tests always run; set it to
# test against a server of your own instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${IRISK_TEST_POSTGRES_URL:-}" ]; then
  exec dev/with-postgres.sh "$0" "$@"
fi
dev/setup.sh --for-tests
swift build --build-tests
if [ $# -gt 0 ]; then
  exec dev/swift-test-watchdog.sh "$@"
fi
dev/test-in-passes.sh
