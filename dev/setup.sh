#!/usr/bin/env bash
# Installs what building IdentityRisk needs and is missing (Debian/Ubuntu; run as root or with sudo).
#   libprotobuf-c-dev  the protobuf-c runtime library and headers (found with pkg-config)
#   pkg-config         how SwiftPM finds it
#   protobuf-c-compiler  protoc-c, only to regenerate/check Sources/CIdentityRiskProto (--with-protoc)
#   python3 protobuf + grpcio-tools  for the Python interop client the tests run (--for-tests)
#   systemd-socket-activate  (Debian: systemd) for the socket-activation test (--for-tests)
#   openssl            certificates for the PostgreSQL TLS test (--for-tests)
set -euo pipefail
want=()
command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6.1 or later first (https://swift.org/install)" >&2; exit 1; }
command -v pkg-config >/dev/null || want+=(pkg-config)
if ! pkg-config --exists libprotobuf-c 2>/dev/null; then want+=(libprotobuf-c-dev); fi
for flag in "$@"; do
  case "$flag" in
    --with-protoc) command -v protoc-c >/dev/null || want+=(protobuf-c-compiler) ;;
    --for-tests)
      command -v python3 >/dev/null || want+=(python3 python3-pip)
      # systemd-socket-activate: the socket-activation test starts iriskd through it.
      command -v systemd-socket-activate >/dev/null || want+=(systemd)
      # openssl: the PostgreSQL TLS test makes its own CA and server certificate.
      command -v openssl >/dev/null || want+=(openssl) ;;
    *) echo "usage: dev/setup.sh [--with-protoc] [--for-tests]" >&2; exit 2 ;;
  esac
done
if [ ${#want[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${want[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${want[@]}" >/dev/null
fi
if [[ " $* " == *" --for-tests "* ]] && ! python3 -c "import google.protobuf, grpc_tools" 2>/dev/null; then
  echo "installing Python packages: protobuf grpcio-tools"
  python3 -m pip install -q protobuf grpcio-tools 2>&1 | grep -v "Running pip as the 'root' user" || true
  python3 -c "import google.protobuf, grpc_tools"
fi
echo "setup: libprotobuf-c $(pkg-config --modversion libprotobuf-c) found"
