#!/bin/sh
# deps.sh - make sure the Debian packages Samspil builds and runs with are
# installed.  As root it installs what is missing with apt-get; otherwise it
# prints the exact apt-get line to run and fails.  Extra package names given
# as arguments are checked too (make fuzz passes clang and its runtime).
set -eu

PACKAGES="gcc make pkg-config libc6-dev libzmq3-dev libuv1-dev libprotobuf-c-dev \
protobuf-c-compiler libpq-dev libsodium-dev libcmocka-dev postgresql postgresql-contrib $*"

missing=""
for pkg in $PACKAGES; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "installed" ] || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    echo "deps: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >&2
else
    echo "deps: missing Debian packages; install them with:" >&2
    echo "  sudo apt-get install -y$missing" >&2
    exit 1
fi
