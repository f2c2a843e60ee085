#!/usr/bin/env bash
# Fails if the committed protoc-c output differs from what Proto/ generates now.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$root/dev/generate-proto.sh" "$tmp" >/dev/null
status=0
for f in $(cd "$tmp" && find . -name '*.pb-c.[ch]'); do
  if ! diff -u "$root/Sources/CIdentityRiskProto/$f" "$tmp/$f"; then status=1; fi
done
if [ $status -ne 0 ]; then
  echo "Generated protobuf-c code is out of date: run dev/generate-proto.sh and commit." >&2
  exit 1
fi
echo "protobuf-c output is up to date."
