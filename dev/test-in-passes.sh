#!/usr/bin/env bash
# Runs the whole (already built) test suite in two passes, each under the watchdog
# (dev/swift-test-watchdog.sh); ARGS (e.g. --sanitize=thread --scratch-path .build-tsan)
# go to both. First the heavy suites: the store tests open, write and fsync dozens of
# SQLite databases in parallel; the crash tests drive and kill -9 real iriskd processes;
# the CLI, Python, permission and watch-daemon tests start processes. Then everything else. Together
# in one process on 2 cores they saturate the machine, and the end-to-end tests' latency
# bounds ("another client is served within 2 s") would measure the test load instead of
# the server.
set -euo pipefail
cd "$(dirname "$0")/.."
heavy='IdentityRiskStoreTests|CrashTests|PythonClientTests|CLITests|CLIUpdateDeleteTests|PermissionTests|WatchDaemonTests|CLIWatchTests|SocketLifecycleTests|DaemonLogTests|SocketActivationTests|DaemonConfigurationTests|DaemonOperationsTests|SystemdNotifyTests|MetricsDaemonTests|FleetDaemonTests|PostgresTLSTests'
dev/swift-test-watchdog.sh "$@" --filter "$heavy"
dev/swift-test-watchdog.sh "$@" --skip "$heavy"
