#!/usr/bin/env bash
# Installs what building IdentityRisk needs and is missing (Debian/Ubuntu; run as root or with sudo).
#   libprotobuf-c-dev  the protobuf-c runtime library and headers (found with pkg-config)
#   pkg-config         how SwiftPM finds it
#   protobuf-c-compiler  protoc-c, only to regenerate/check Sources/CIdentityRiskProto (optional: --with-protoc)
set -euo pipefail
want=()
command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6.1 or later first (https://swift.org/install)" >&2; exit 1; }
command -v pkg-config >/dev/null || want+=(pkg-config)
if ! pkg-config --exists libprotobuf-c 2>/dev/null; then want+=(libprotobuf-c-dev); fi
if [ "${1:-}" = "--with-protoc" ] && ! command -v protoc-c >/dev/null; then want+=(protobuf-c-compiler); fi
if [ ${#want[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${want[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${want[@]}" >/dev/null
fi
echo "setup: libprotobuf-c $(pkg-config --modversion libprotobuf-c) found"
