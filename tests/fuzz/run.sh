#!/bin/sh
# make fuzz: build each libFuzzer target with clang (ASan+UBSan) and run it
# for a bounded time (FUZZ_SECONDS, default 60 each). Corpora live in
# build/fuzz/<target>.corpus and grow across runs; tests/fuzz/seeds/<target>,
# when there is one, holds inputs they start from.
set -eu
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-60}
out=build/fuzz
mkdir -p "$out"
CFLAGS="-std=c11 -D_GNU_SOURCE -DSMELT_VERSION=\"fuzz\" -g -O1 -Isrc -isystem ${DUCKDB_DIR:-deps/duckdb} \
  -fsanitize=fuzzer,address,undefined $(pkg-config --cflags yaml-0.1 jansson libcurl libarchive zlib libdeflate)"
# libcurl and libarchive: dlopen() on first use (util/http.c, ingest/unpack.c)
LIBS="$(pkg-config --libs yaml-0.1 jansson zlib libdeflate) -lpthread -ldl"
build() { # target sources...
    t=$1
    shift
    clang $CFLAGS tests/fuzz/$t.c "$@" -o "$out/$t" $LIBS
}
build fuzz_dv src/table/dv.c src/util/util.c
build fuzz_yaml src/project/project.c src/util/util.c src/util/tmpl.c
build fuzz_member src/ingest/member.c src/util/util.c
build fuzz_tmpl src/util/tmpl.c src/util/util.c
build fuzz_oauth src/util/oauth.c src/util/http.c src/util/util.c
build fuzz_jscan src/util/jscan.c src/util/util.c
UNPACK="src/ingest/unpack.c src/ingest/zip.c src/ingest/member.c src/ingest/ndkeys.c src/project/project.c src/util/jscan.c src/util/tmpl.c src/util/util.c"
build fuzz_unpack $UNPACK
build fuzz_ndkeys $UNPACK
status=0
for t in fuzz_dv fuzz_yaml fuzz_member fuzz_tmpl fuzz_oauth fuzz_jscan fuzz_unpack fuzz_ndkeys; do
    mkdir -p "$out/$t.corpus"
    echo "fuzz: $t for ${secs}s"
    seeds=tests/fuzz/seeds/$t # inputs to start from, when there are any
    [ -d "$seeds" ] || seeds=
    "$out/$t" -max_total_time="$secs" -max_len=4096 "$out/$t.corpus" $seeds > "$out/$t.log" 2>&1 || {
        status=1
        echo "fuzz: $t found a crash, see $out/$t.log"
        tail -30 "$out/$t.log"
    }
done
exit $status
