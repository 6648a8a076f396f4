#!/bin/sh
# install-deps.sh -- install what recgate needs to build, run and test, from
# Debian's archive. Idempotent: installs only what is missing.
# Usage: install-deps.sh [--test | --fuzz]
set -eu

PKGS="build-essential pkg-config libuv1-dev libsodium-dev libsqlcipher-dev
libjansson-dev libyajl-dev libhttp-parser-dev libseccomp-dev libssl-dev libgoogle-perftools-dev
openssl curl"
# --test: also what the test suite alone needs (debhelper: it builds the
# Debian package, as `make deb` does).
[ "${1:-}" = "--test" ] && PKGS="$PKGS valgrind systemd debhelper"
# --fuzz: clang and its libFuzzer runtime, for `make fuzz`.
[ "${1:-}" = "--fuzz" ] && PKGS="$PKGS clang"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$missing"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
