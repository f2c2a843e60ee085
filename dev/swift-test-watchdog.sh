#!/usr/bin/env bash
# Runs `swift test --skip-build ARGS...` with a watchdog: if it takes longer than
# IRISK_TEST_TIMEOUT seconds (default 900; a normal run takes well under a minute,
# under a sanitizer a few), it prints every thread's backtrace (when gdb is
# installed), stops the run and what it started, and fails: a hung test fails CI
# quickly and says where it hung. Output is line-buffered, so that the last lines
# before a hang are not lost in a buffer.
set -euo pipefail
limit=${IRISK_TEST_TIMEOUT:-900}
stdbuf -oL -eL swift test --skip-build "$@" &
tests=$!
(
  for _ in $(seq "$limit"); do
    sleep 1
    kill -0 "$tests" 2>/dev/null || exit 0
  done
  echo "::: the tests are still running after $limit s; stopping them" >&2
  for child in $(pgrep -P "$tests"); do
    if command -v gdb >/dev/null; then
      echo "::: threads of $child ($(cat /proc/"$child"/comm 2>/dev/null)):" >&2
      gdb -p "$child" -batch -ex "thread apply all bt" 2>/dev/null | grep -E '^Thread|^#' | cut -c1-240 >&2 || true
    fi
    # The daemons and CLIs the tests started, then the test process.
    for grandchild in $(pgrep -P "$child"); do kill -KILL "$grandchild" 2>/dev/null || true; done
    kill -KILL "$child" 2>/dev/null || true
  done
  kill -KILL "$tests" 2>/dev/null || true
) &
watchdog=$!
status=0
wait "$tests" || status=$?
kill "$watchdog" 2>/dev/null || true
wait "$watchdog" 2>/dev/null || true
exit "$status"
