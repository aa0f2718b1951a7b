#!/usr/bin/env bash
# bench/startup.sh — what the shared libraries smelt links cost every smelt
# command at start, and what the ones it loads with dlopen() on first use
# (the Makefile's DLOPEN_PKGS: libcurl, libarchive, libcrypto) would cost
# linked, and cost when loaded. See bench/README.md ("bench/startup.sh").
#
#   bench/startup.sh               (REPEAT=101)
#   SMELT=/path/to/old/smelt bench/startup.sh   (time another build as (s))
#
# Builds probe programs that print DuckDB's version and exit, linked with:
#   h  libduckdb only
#   i  libduckdb and every library of PKGS and DLOPEN_PKGS: smelt as it was
#      when it linked them all
#   j  libduckdb and PKGS: what smelt links now, i.e. what a command that
#      needs none of DLOPEN_PKGS (query, run without REST, archives, ...) pays
#   k  j, then dlopen() of one library of DLOPEN_PKGS (and for libcurl
#      curl_global_init()): what a command pays the first time it needs it;
#      one row per library, and one (k all) that loads all of them
# and times them, and `smelt version`, REPEAT times each in turns (bash's
# EPOCHREALTIME around each run: fork + exec + dynamic loading + main).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SMELT=${SMELT:-$ROOT/build/smelt}
REPEAT=${REPEAT:-101}
OUT=${OUT:-$ROOT/bench/out/startup}
DUCKDB_DIR=${DUCKDB_DIR:-$ROOT/deps/duckdb}
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive whole number, got '$REPEAT'"
[[ -x $SMELT ]] || die "$SMELT is missing: build it first with 'make -C $ROOT build/smelt'"
[[ -n ${EPOCHREALTIME:-} ]] || die "bash 5 is needed (EPOCHREALTIME)"
for tool in cc pkg-config ldd readelf awk; do
    command -v "$tool" >/dev/null || die "'$tool' is needed"
done
# smelt's libraries, as the Makefile links them and loads them
PKGS=$(sed -n 's/^PKGS := //p' "$ROOT/Makefile")
DLOPEN_PKGS=$(sed -n 's/^DLOPEN_PKGS := //p' "$ROOT/Makefile")
[[ -n $PKGS ]] || die "no 'PKGS := ...' line in $ROOT/Makefile"
[[ -n $DLOPEN_PKGS ]] || die "no 'DLOPEN_PKGS := ...' line in $ROOT/Makefile: nothing is loaded on demand"

rm -rf "$OUT"
mkdir -p "$OUT"
cp "$SMELT" "$OUT/smelt"
SMELT=$OUT/smelt
cat >"$OUT/probe.c" <<'EOF'
#include <dlfcn.h>
#include <duckdb.h>
#include <stdio.h>
/* Loads each library named on the command line as smelt does on first
 * use; libcurl is also initialized, as util/http.c does. */
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        void *h = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "cannot load %s: %s\n", argv[i], dlerror());
            return 1;
        }
        int (*global_init)(long) = (int (*)(long))dlsym(h, "curl_global_init");
        if (global_init && global_init(3L /* CURL_GLOBAL_ALL */)) {
            fprintf(stderr, "curl_global_init failed\n");
            return 1;
        }
    }
    printf("%s\n", duckdb_library_version());
    return 0;
}
EOF
probe() { # NAME CFLAGS_AND_LIBS...
    local name=$1
    shift
    cc -O1 -isystem "$DUCKDB_DIR" "$OUT/probe.c" -o "$OUT/$name" -Wl,--no-as-needed \
        -L"$DUCKDB_DIR" -Wl,-rpath,"$DUCKDB_DIR" -lduckdb "$@" -lm -lpthread -ldl 2>>"$OUT/build.err" ||
        die "cannot build probe $name: $(cat "$OUT/build.err")"
    "$OUT/$name" >/dev/null || die "probe $name does not run"
}
# shellcheck disable=SC2086 # word splitting of pkg-config's output is wanted
{
    probe h
    probe i $(pkg-config --libs $PKGS $DLOPEN_PKGS)
    probe j $(pkg-config --libs $PKGS)
}
# The sonames smelt loads: what i needs and j does not.
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort; }
mapfile -t SONAMES < <(comm -13 <(needed "$OUT/j") <(needed "$OUT/i"))
((${#SONAMES[@]})) || die "the libraries of DLOPEN_PKGS ($DLOPEN_PKGS) add no shared object"
"$OUT/j" "${SONAMES[@]}" >/dev/null || die "probe j cannot load ${SONAMES[*]}"
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
    for so in "${SONAMES[@]}"; do
        timed "k $so" "$OUT/j" "$so"
    done
    timed "k all" "$OUT/j" "${SONAMES[@]}"
    timed s "$SMELT" version
done
stat() { # median|min of step $2, in ms
    echo "${T[$2]}" | tr ' ' '\n' | grep . | sort -g | awk -v w="$1" '{ v[NR] = $1 }
        END { if (w == "min") m = v[1]; else m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m * 1000 }'
}
diff_ms() { awk -v a="$(stat "$1" "$2")" -v b="$(stat "$1" "$3")" 'BEGIN { printf "%.2f", a - b }'; }
{
    echo "smelt start-up benchmark, REPEAT=$REPEAT, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $LOAD_BEFORE -> $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "linked: $PKGS; loaded on first use: $DLOPEN_PKGS (${SONAMES[*]})"
    echo
    printf '%-62s %8s %9s %7s\n' step "median ms" "min ms" "libs"
    row() { printf '%-62s %8s %9s %7s\n' "$1" "$(stat median "$2")" "$(stat min "$2")" "$3"; }
    row "(h) probe linked with libduckdb only" h "$(nlibs "$OUT/h")"
    row "(i) ... and every library, DLOPEN_PKGS too (smelt before)" i "$(nlibs "$OUT/i")"
    row "(j) ... and the libraries smelt links now (PKGS)" j "$(nlibs "$OUT/j")"
    for so in "${SONAMES[@]}"; do
        row "(k) (j), then dlopen($so)" "k $so" ""
    done
    row "(k all) (j), then dlopen() of all of them" "k all" "+$(($(nlibs "$OUT/i") - $(nlibs "$OUT/j")))"
    row "(s) smelt version" s "$(nlibs "$SMELT")"
    echo
    echo "linking DLOPEN_PKGS would cost every command (i) - (j) = $(diff_ms median i j) ms (min $(diff_ms min i j) ms)"
    for so in "${SONAMES[@]}"; do
        echo "loading $so on first use costs (k) - (j) = $(diff_ms median "k $so" j) ms (min $(diff_ms min "k $so" j) ms)"
    done
    echo "the libraries smelt links: (j) - (h) = $(diff_ms median j h) ms (min $(diff_ms min j h) ms)"
    echo
    echo "shared objects only DLOPEN_PKGS bring in:"
    comm -13 <(ldd "$OUT/j" | awk '/=>/ { print $1 }' | sort) <(ldd "$OUT/i" | awk '/=>/ { print $1 }' | sort) | tr '\n' ' '
    echo
} | tee "$OUT/results.txt"
