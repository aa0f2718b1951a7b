#!/bin/sh
# Install what smelt needs on a fresh Debian machine: the Debian packages and
# the pinned DuckDB (libduckdb.so from @duckdb/node-bindings-linux-x64, duckdb.h
# from the duckdb npm package, same version) under deps/duckdb. Idempotent and
# quiet when everything is already there. DUCKDB_DIR=... skips the download.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential pkg-config curl ca-certificates clang libclang-rt-14-dev \
libsqlite3-dev libyaml-dev libjansson-dev libsodium-dev libcmocka-dev zlib1g-dev \
libcurl4-openssl-dev libssl-dev libarchive-dev libzstd-dev libmicrohttpd-dev sqlite3 python3 time \
zip unzip bzip2 xz-utils zstd python3-requests libdeflate-dev"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "deps: installing$missing"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing >/dev/null
fi

DUCKDB_VERSION=1.4.4
BINDINGS="@duckdb/node-bindings-linux-x64/-/node-bindings-linux-x64-${DUCKDB_VERSION}-r.1.tgz"
HEADERS="duckdb/-/duckdb-${DUCKDB_VERSION}.tgz"
REGISTRY="${NPM_REGISTRY:-https://registry.npmjs.org}"

if [ -n "${DUCKDB_DIR:-}" ] && [ "$DUCKDB_DIR" != "deps/duckdb" ]; then
    [ -f "$DUCKDB_DIR/libduckdb.so" ] && [ -f "$DUCKDB_DIR/duckdb.h" ] || {
        echo "deps: DUCKDB_DIR='$DUCKDB_DIR' must hold libduckdb.so and duckdb.h" >&2; exit 2; }
    exit 0
fi
d=deps/duckdb
if [ -f "$d/libduckdb.so" ] && [ -f "$d/duckdb.h" ] && [ "$(cat $d/VERSION 2>/dev/null)" = "$DUCKDB_VERSION" ]; then
    exit 0
fi
echo "deps: fetching DuckDB $DUCKDB_VERSION from the npm registry"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -sSfL --retry 3 -o "$tmp/b.tgz" "$REGISTRY/$BINDINGS"
curl -sSfL --retry 3 -o "$tmp/h.tgz" "$REGISTRY/$HEADERS"
mkdir -p "$d"
tar xzf "$tmp/b.tgz" -C "$tmp" package/libduckdb.so
tar xzf "$tmp/h.tgz" -C "$tmp" package/src/duckdb/src/include/duckdb.h
mv "$tmp/package/libduckdb.so" "$d/libduckdb.so"
mv "$tmp/package/src/duckdb/src/include/duckdb.h" "$d/duckdb.h"
echo "$DUCKDB_VERSION" > "$d/VERSION"
