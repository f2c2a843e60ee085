#!/usr/bin/env bash
# dev/with-postgres.sh CMD [ARGS...]: runs CMD with a throwaway PostgreSQL cluster.
#
# Installs PostgreSQL from Debian's packages when initdb is missing, creates a
# cluster in a fresh temporary directory (owned by the unprivileged user
# `postgres` when run as root: PostgreSQL refuses to run as root), starts it
# listening on a Unix socket in that directory only (no TCP), with fsync and
# synchronous_commit on, creates database `irisk`, and runs CMD with
#   IRISK_TEST_POSTGRES_URL=postgresql://USER@/irisk?host=SOCKET_DIR
# (the form `--store` accepts). The cluster is stopped and its directory removed
# when this script exits, whether CMD passed, failed or was interrupted.
# CMD's exit status is this script's. When CMD fails, the server log's slow
# statements (over 2 s), checkpoints and lock waits go to stderr;
# IRISK_PG_KEEP_LOG=FILE keeps the whole log.
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: dev/with-postgres.sh CMD [ARGS...]" >&2
  exit 2
fi

bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

if ! BIN=$(bindir); then
  echo "with-postgres: installing PostgreSQL (Debian package postgresql)" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "with-postgres: PostgreSQL is not installed and this is not root: install the Debian package 'postgresql'" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  BIN=$(bindir)
fi

# PostgreSQL will not run as root: use the package's `postgres` account then.
if [ "$(id -u)" -eq 0 ]; then
  PGUSER_OS=postgres
  id "$PGUSER_OS" >/dev/null 2>&1 || useradd --system --no-create-home "$PGUSER_OS"
  as_pg() { runuser -u "$PGUSER_OS" -- "$@"; }
else
  PGUSER_OS=$(id -un)
  as_pg() { "$@"; }
fi

WORK=$(mktemp -d /tmp/irisk-pg.XXXXXX)
chmod 755 "$WORK"
[ "$(id -u)" -eq 0 ] && chown "$PGUSER_OS" "$WORK"
DATA="$WORK/data"
SOCKET="$WORK"
LOG="$WORK/server.log"

cleanup() {
  local status=$?
  # On failure, what the server saw: slow statements, checkpoints, lock waits.
  if [ "$status" -ne 0 ] && [ -s "$LOG" ]; then
    echo "with-postgres: CMD failed ($status); the server log's slow statements, checkpoints and lock waits (last 60):" >&2
    grep -E 'duration:|checkpoint|lock|FATAL|PANIC|ERROR' "$LOG" | tail -n 60 >&2 || true
  fi
  # IRISK_PG_KEEP_LOG=FILE keeps the whole server log (for reading after a run).
  if [ -n "${IRISK_PG_KEEP_LOG:-}" ] && [ -f "$LOG" ]; then cp "$LOG" "$IRISK_PG_KEEP_LOG" || true; fi
  if [ -f "$DATA/postmaster.pid" ]; then
    as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 \
      || as_pg "$BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  exit "$status"
}
CHILD=
# On INT/TERM (a watchdog, a timeout), stop CMD too before removing the cluster.
stop() { [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null; wait "$CHILD" 2>/dev/null; exit "$1"; }
trap cleanup EXIT
trap 'stop 130' INT
trap 'stop 143' TERM

as_pg "$BIN/initdb" -D "$DATA" -U "$PGUSER_OS" --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$WORK/initdb.log" 2>&1 \
  || { cat "$WORK/initdb.log" >&2; exit 1; }
if ! as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start \
  -o "-c listen_addresses='' -c unix_socket_directories='$SOCKET' -c fsync=on -c synchronous_commit=on -c max_connections=400 -c log_min_duration_statement=2000 -c log_checkpoints=on -c log_lock_waits=on" >/dev/null; then
  cat "$LOG" >&2
  exit 1
fi
as_pg "$BIN/createdb" -h "$SOCKET" -U "$PGUSER_OS" irisk

export IRISK_TEST_POSTGRES_URL="postgresql://$PGUSER_OS@/irisk?host=$SOCKET"
echo "with-postgres: PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') at $IRISK_TEST_POSTGRES_URL" >&2
set +e
"$@" &
CHILD=$!
wait "$CHILD"
status=$?
set -e
exit "$status"
