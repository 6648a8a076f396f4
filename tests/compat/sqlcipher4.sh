#!/bin/sh
# sqlcipher4.sh -- builds recgate against SQLCipher 4 (Debian 13's major
# version; the system has Debian 12's 3.4.1) and runs the whole suite with
# the sandbox on, plus the upgrade drill: a database made by the system's
# 3.4.1 build opened, read, rekeyed and verified by the 4.x build.
# Everything lands in build-compat/; nothing is vendored in the repository
# and the system's SQLCipher is left alone. Run it as `make compat-sqlcipher4`.
#
#   COMPAT_DIR   where to build (default build-compat)
#   JOBS         make -j (default 2)
#   T            test names to run instead of the whole suite
set -eu

cd "$(dirname "$0")/../.."
TOP=$(pwd)
OUT=${COMPAT_DIR:-$TOP/build-compat}
case $OUT in /*) ;; *) OUT=$TOP/$OUT ;; esac
JOBS=${JOBS:-2}

# The SQLCipher 4 amalgamation (sqlite3.c/sqlite3.h) as published on npm.
# The tarball's digest is pinned: a different file is refused.
NPM_PKG=@commapp/sqlcipher-amalgamation
NPM_VER=4.5.5
NPM_TGZ=commapp-sqlcipher-amalgamation-$NPM_VER.tgz
NPM_SHA256=5e49e540eb0274d8ba87c1ce680a1143971a2528e0783044a08b39c97ea07d13

CACHE=$OUT/cache
SRC=$CACHE/sqlcipher-$NPM_VER
LIB=$OUT/sqlcipher-$NPM_VER
B4=$OUT/recgate-sqlcipher4
B3=$OUT/recgate-system

say() { printf 'compat: %s\n' "$*"; }
die() { printf 'compat: %s\n' "$*" >&2; exit 1; }

# ---- fetch -------------------------------------------------------------
mkdir -p "$CACHE"
if [ ! -f "$CACHE/$NPM_TGZ" ]; then
	command -v npm >/dev/null 2>&1 || die "npm is needed to fetch $NPM_PKG"
	say "fetching $NPM_PKG@$NPM_VER with npm pack"
	(cd "$CACHE" && npm pack --silent "$NPM_PKG@$NPM_VER" >/dev/null) ||
		die "npm pack $NPM_PKG@$NPM_VER failed"
fi
got=$(sha256sum "$CACHE/$NPM_TGZ" | cut -d' ' -f1)
[ "$got" = "$NPM_SHA256" ] ||
	die "$NPM_TGZ: sha256 $got, expected $NPM_SHA256 (remove it to fetch again)"
if [ ! -f "$SRC/src/sqlite3.c" ]; then
	rm -rf "$SRC" && mkdir -p "$SRC"
	tar xzf "$CACHE/$NPM_TGZ" -C "$SRC" --strip-components=1
fi

# ---- the library -------------------------------------------------------
# The options of Debian's sqlcipher package that matter to recgate:
# SQLCipher on OpenSSL, temporary tables in memory (never in the clear on
# disk), secure delete, thread-safe. Load extensions stay off: the keeper
# never loads code.
SQLC_DEFS="-DSQLITE_HAS_CODEC -DSQLCIPHER_CRYPTO_OPENSSL -DSQLITE_TEMP_STORE=2
 -DSQLITE_THREADSAFE=1 -DSQLITE_SECURE_DELETE -DSQLITE_ENABLE_COLUMN_METADATA
 -DSQLITE_ENABLE_UNLOCK_NOTIFY -DSQLITE_MAX_SCHEMA_RETRY=25
 -DSQLITE_OMIT_LOAD_EXTENSION"
if [ ! -f "$LIB/libsqlcipher.a" ] || [ "$SRC/src/sqlite3.c" -nt "$LIB/libsqlcipher.a" ] ||
   [ "$0" -nt "$LIB/libsqlcipher.a" ]; then
	say "compiling the SQLCipher $NPM_VER amalgamation"
	rm -rf "$LIB" && mkdir -p "$LIB/include"
	# shellcheck disable=SC2086
	cc -O2 -g -fPIE -fstack-protector-strong -D_FORTIFY_SOURCE=2 $SQLC_DEFS \
		-w -c "$SRC/src/sqlite3.c" -o "$LIB/sqlite3.o"
	ar rcs "$LIB/libsqlcipher.a" "$LIB/sqlite3.o"
	cp "$SRC/src/sqlite3.h" "$SRC/src/sqlite3ext.h" "$LIB/include/"
fi
SQLC_CFLAGS="-I$LIB/include"
SQLC_LIBS="$LIB/libsqlcipher.a -lcrypto -lpthread -lm"

cc -O2 -Wall -Wextra -Werror $SQLC_CFLAGS tests/compat/cipher_probe.c \
	$SQLC_LIBS -o "$LIB/cipher_probe"
version=$("$LIB/cipher_probe") || die "the built library is not SQLCipher"
say "library: $version"
case $version in
"SQLCipher 4."*) ;;
*) die "expected SQLCipher 4.x, got: $version" ;;
esac

# ---- recgate on each ---------------------------------------------------
say "building recgate against SQLCipher $NPM_VER in $B4"
make --no-print-directory -j"$JOBS" BUILD="$B4" \
	SQLCIPHER_CFLAGS="$SQLC_CFLAGS" SQLCIPHER_LIBS="$SQLC_LIBS" \
	all "$B4/rgtest" "$B4/loadgen"
# The programs must carry the static 4.x library, not load the system's.
for p in recgated recgatectl rgtest; do
	if ldd "$B4/$p" | grep -q 'libsqlcipher'; then
		die "$B4/$p loads the system's libsqlcipher"
	fi
done
say "building recgate against the system's SQLCipher in $B3 (upgrade drill)"
make --no-print-directory -j"$JOBS" BUILD="$B3" all
ldd "$B3/recgated" | grep -q 'libsqlcipher' ||
	die "$B3/recgated does not use the system's libsqlcipher"

# ---- the suite ---------------------------------------------------------
# RG_EXPECT_SQLCIPHER makes the suite check the linked major version;
# RG_UPGRADE_FROM names the build whose databases the upgrade drill opens.
say "running the suite against $version (sandbox on)"
RG_BUILD="$B4" RG_TESTDATA=tests/data RG_EXPECT_SQLCIPHER=4 \
	RG_UPGRADE_FROM="$B3" "$B4/rgtest" ${T:-}
