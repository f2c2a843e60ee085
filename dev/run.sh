#!/usr/bin/env bash
# Installs what is missing, builds in release mode, and runs iriskd in the foreground
# on its defaults: socket /run/identityrisk/iriskd.sock as root, else
# $XDG_RUNTIME_DIR/identityrisk/iriskd.sock (give --socket PATH without XDG_RUNTIME_DIR), durable SQLite store at
# ${XDG_STATE_HOME:-$HOME/.local/state}/identityrisk/events.sqlite. Extra arguments go to iriskd.
set -euo pipefail
cd "$(dirname "$0")/.."
dev/setup.sh
swift build -c release
exec .build/release/iriskd "$@"
