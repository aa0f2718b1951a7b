#!/usr/bin/env bash
# bench/startup.sh — what linking libcurl costs every smelt command at start,
# and what loading it with dlopen() on first use would save. See
# bench/README.md ("bench/startup.sh").
#
#   bench/startup.sh               (REPEAT=101)
#
# Builds probe programs that print DuckDB's version and exit, linked with:
#   h  libduckdb only
#   i  libduckdb and every library smelt links (the Makefile's PKGS)
#   j  the same without libcurl: smelt with libcurl loaded on demand, for a
#      command that makes no HTTP request (query, run without REST or S3, ...)
#   k  j, then dlopen("libcurl.so.4") and curl_global_init() resolved with
#      dlsym(): the price a command that does make requests would pay
# and times them, and `smelt version`, REPEAT times each in turns (bash's
# EPOCHREALTIME around each run: fork + exec + dynamic loading + main).
set -euo pipefail

die() {
    echo "startup.sh: $*" >&2
    exit 1
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SMELT=$ROOT/build/smelt
REPEAT=${REPEAT:-101}
OUT=${OUT:-$ROOT/bench/out/startup}
DUCKDB_DIR=${DUCKDB_DIR:-$ROOT/deps/duckdb}
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive whole number, got '$REPEAT'"
[[ -x $SMELT ]] || die "$SMELT is missing: build it first with 'make -C $ROOT build/smelt'"
[[ -n ${EPOCHREALTIME:-} ]] || die "bash 5 is needed (EPOCHREALTIME)"
for tool in cc pkg-config ldd awk; do
    command -v "$tool" >/dev/null || die "'$tool' is needed"
done
# smelt's libraries, as the Makefile links them
PKGS=$(sed -n 's/^PKGS := //p' "$ROOT/Makefile")
[[ $PKGS == *libcurl* ]] || die "the Makefile's PKGS has no libcurl: nothing to measure"
PKGS_NO_CURL=${PKGS/libcurl/}

rm -rf "$OUT"
mkdir -p "$OUT"
cp "$SMELT" "$OUT/smelt"
SMELT=$OUT/smelt
cat >"$OUT/probe.c" <<'EOF'
#include <duckdb.h>
#include <stdio.h>
#ifdef LOAD_CURL
#include <dlfcn.h>
#endif
int main(void)
{
#ifdef LOAD_CURL
    /* what http.c would do on its first request */
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    int (*global_init)(long) = h ? (int (*)(long))dlsym(h, "curl_global_init") : NULL;
    if (!global_init || global_init(3L /* CURL_GLOBAL_ALL */)) {
        fprintf(stderr, "cannot load libcurl: %s\n", dlerror());
        return 1;
    }
#endif
    printf("%s\n", duckdb_library_version());
    return 0;
}
EOF
probe() { # NAME CFLAGS_AND_LIBS...
    local name=$1
    shift
    cc -O1 -isystem "$DUCKDB_DIR" "$OUT/probe.c" -o "$OUT/$name" -Wl,--no-as-needed \
        -L"$DUCKDB_DIR" -Wl,-rpath,"$DUCKDB_DIR" -lduckdb "$@" -lm -lpthread 2>>"$OUT/build.err" ||
        die "cannot build probe $name: $(cat "$OUT/build.err")"
    "$OUT/$name" >/dev/null || die "probe $name does not run"
}
# shellcheck disable=SC2086 # word splitting of pkg-config's output is wanted
{
    probe h
    probe i $(pkg-config --libs $PKGS)
    probe j $(pkg-config --libs $PKGS_NO_CURL)
    probe k -DLOAD_CURL $(pkg-config --libs $PKGS_NO_CURL) -ldl
}
nlibs() { ldd "$1" | grep -c '=>'; }

declare -A T
timed() {
    local name=$1
    shift
    local s=$EPOCHREALTIME
    "$@" >/dev/null 2>&1 || die "step $name failed: $*"
    local e=$EPOCHREALTIME
    T[$name]+="$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.5f", e - s }') "
}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "-- $REPEAT runs of each, in turns ..."
for ((r = 1; r <= REPEAT; r++)); do
    timed h "$OUT/h"
    timed i "$OUT/i"
    timed j "$OUT/j"
    timed k "$OUT/k"
    timed s "$SMELT" version
done
stat() { # median|min of step $2, in ms
    echo "${T[$2]}" | tr ' ' '\n' | grep . | sort -g | awk -v w="$1" '{ v[NR] = $1 }
        END { if (w == "min") m = v[1]; else m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m * 1000 }'
}
diff_ms() { awk -v a="$(stat "$1" "$2")" -v b="$(stat "$1" "$3")" 'BEGIN { printf "%.2f", a - b }'; }
{
    echo "smelt start-up benchmark, REPEAT=$REPEAT, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $LOAD_BEFORE -> $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    printf '%-62s %8s %9s %7s\n' step "median ms" "min ms" "libs"
    row() { printf '%-62s %8s %9s %7s\n' "$1" "$(stat median "$2")" "$(stat min "$2")" "$3"; }
    row "(h) probe linked with libduckdb only" h "$(nlibs "$OUT/h")"
    row "(i) ... and all of smelt's libraries (today)" i "$(nlibs "$OUT/i")"
    row "(j) ... all but libcurl (libcurl loaded on demand)" j "$(nlibs "$OUT/j")"
    row "(k) (j), then dlopen(libcurl) + curl_global_init()" k "+$(($(nlibs "$OUT/i") - $(nlibs "$OUT/j")))"
    row "(s) smelt version" s "$(nlibs "$SMELT")"
    echo
    echo "linking libcurl costs every command (i) - (j) = $(diff_ms median i j) ms (min $(diff_ms min i j) ms)"
    echo "loading it on demand costs a command that makes requests (k) - (j) = $(diff_ms median k j) ms (min $(diff_ms min k j) ms)"
    echo "the rest of smelt's libraries: (j) - (h) = $(diff_ms median j h) ms"
    echo
    echo "shared objects only libcurl brings in:"
    comm -13 <(ldd "$OUT/j" | awk '/=>/ { print $1 }' | sort) <(ldd "$OUT/i" | awk '/=>/ { print $1 }' | sort) | tr '\n' ' '
    echo
} | tee "$OUT/results.txt"
