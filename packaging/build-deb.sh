#!/bin/sh
# build-deb.sh -- `make deb`: the recgate Debian package (needs debhelper,
# which `packaging/install-deps.sh --test` installs). Copies the source
# tree, without builds and data, to OUT/src with packaging/debian as its
# debian/ (the top level of the tree stays as it is), and builds the
# binary package there: OUT/recgate_VERSION_ARCH.deb.
#
# Environment: OUT (default build/deb).
set -eu
cd "$(dirname "$0")/.."
OUT=${OUT:-build/deb}

# A make above this one (make deb, make test SAN=1) must not pass its
# variables down into the package's own build (debian/rules also names
# the build's own).
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES SAN VALGRIND BUILD

command -v dpkg-buildpackage > /dev/null && command -v dh > /dev/null || {
	echo "build-deb.sh: dpkg-buildpackage and debhelper are needed" \
	     "(sh packaging/install-deps.sh --test)" >&2
	exit 2
}
rm -rf "$OUT"
mkdir -p "$OUT/src"
OUT=$(cd "$OUT" && pwd)
tar --exclude=./.git --exclude='./build*' --exclude=./demo -cf - . |
	tar -xf - -C "$OUT/src"
cp -R packaging/debian "$OUT/src/debian"
(cd "$OUT/src" && dpkg-buildpackage -b -us -uc > "$OUT/build.log" 2>&1) || {
	tail -n 40 "$OUT/build.log" >&2
	echo "build-deb.sh: dpkg-buildpackage failed (whole log: $OUT/build.log)" >&2
	exit 1
}
ls "$OUT"/recgate_*.deb
