#!/usr/bin/env bash
# Regenerates the protobuf-c code in Sources/CIdentityRiskProto from Proto/*.proto.
# Needs protoc-c (Debian: protobuf-c-compiler). The output is committed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/Sources/CIdentityRiskProto"}
command -v protoc-c >/dev/null || { echo "protoc-c not found: apt-get install -y protobuf-c-compiler" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$root/Proto" && protoc-c --c_out="$tmp" ./*.proto)
mkdir -p "$out/include"
for c in "$tmp"/*.pb-c.c; do
  base=$(basename "$c" .pb-c.c)
  # The header goes where SwiftPM looks for public headers; the .c includes it by name.
  sed "s|#include \"$base.pb-c.h\"|#include \"include/$base.pb-c.h\"|" "$c" > "$out/$base.pb-c.c"
  cp "$tmp/$base.pb-c.h" "$out/include/$base.pb-c.h"
done
echo "generated into $out with $(protoc-c --version | head -1)"
