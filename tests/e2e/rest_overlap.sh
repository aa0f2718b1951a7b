#!/bin/sh
# Bronze while landing (src/ingest/overlap.c): a REST source with megabytes
# of pages has its bronze data files written while later pages still
# arrive, and committed once, at the end. Pages from tests/e2e/rest_server.py
# --bench: page k of 100 holds records (k-1)*1000+1 .. k*1000 (about 103 kB),
# record i with id i, name "item-<i>", price "n/a" when 20 divides i. Every
# expected figure below is worked out from that, or read by DuckDB straight
# from the landed pages, never from smelt's own output.
#
# A rate limit makes the landing slow enough (4 s) that the first chunks are
# read while it runs. Checked: every record once, with the provenance of
# its own page; a key that appears late and a value that stops fitting its
# type late (the chunks already written are dropped, bronze is loaded as
# before); kill -9 while the chunks are written, then a rerun; a rebuild
# from the landing zone gives the same rows.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
cd "$WORK" || exit 1

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1

PAGES=100 PER=1000
N=$((PAGES * PER))
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT

# serve NAME [SHAPE]: a bench server of PAGES pages; its base URL in $BASE
serve() {
    python3 "$here/rest_server.py" --bench raw "$WORK/$1.port" $PAGES $PER ${2:-} > "$1.log" 2>&1 &
    pids="$pids $!"
    i=0
    while [ ! -s "$WORK/$1.port" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    BASE="http://127.0.0.1:$(cat "$WORK/$1.port" 2>/dev/null)"
}
# mkproj DIR [RATE]: a project reading $BASE/bench/items, at most RATE requests a second
mkproj() {
    mkdir -p "$1/sources"
    echo "name: t" > "$1/smelt.yml"
    cat > "$1/sources/items.yml" << EOF
kind: rest
base_url: $BASE
resource: bench/items
records: data
paginate: {type: page, limit: $PER, limit_param: per_page, has_more_path: has_more}
rate_limit: ${2:-0}
EOF
}
q() { smelt_q "$1" "$2" 2> q.err | tail -n +2; }
# adds DIR VERSION: data files the bronze commit VERSION added
adds() { grep -c '"add"' "$1/lake/bronze/items/_delta_log/$(printf %020d "$2").json" 2> /dev/null || echo 0; }
# the landed pages of DIR, as DuckDB reads them itself
landed() { echo "read_json('$WORK/$1/lake/landing/items/*/*/*/*/page-*.json', format='unstructured', records=false)"; }

# The records by arithmetic: count, sum of ids, prices "n/a" (price mixes
# numbers and strings: bronze keeps its JSON text), distinct names.
EXPECT="$N,$((N * (N + 1) / 2)),$((N / 20)),$N"
SUMS="SELECT count(*), sum(id), count(*) FILTER (WHERE price = '\"n/a\"'), count(DISTINCT name) FROM bronze.items"

# --- the pages read while they land ----------------------------------------------------
serve plain
mkproj slow 25
"$SMELT" -v -C slow run --format csv > run.out 2> run.err
check_eq "a run of $PAGES pages at 25 requests/s exits 0" 0 "$?"
check_eq "every record once" "$EXPECT" "$(q slow "$SUMS")"
check_contains "pages were read while the landing went on (-v)" "pages read while landing" "$(cat run.err)"
nadd=$(adds slow 0)
if [ "$nadd" -ge 2 ]; then ok "one commit of several data files ($nadd)"; else not_ok "one commit of several data files" "adds: $nadd"; fi
nfiles=$(find slow/lake/bronze/items -name '*.parquet' | wc -l | tr -d ' ')
check_eq "no data file outside the commit" "$nadd" "$nfiles"
# Provenance: each record carries the page it came from (page k holds ids
# (k-1)*1000+1 .. k*1000), the URL that page was asked at, one batch, one time.
check_eq "provenance: each record's page file and URL, one batch, one time" "0,0,1,1,0" \
    "$(q slow "SELECT count(*) FILTER (WHERE NOT ends_with(_source_file, printf('page-%05d.json', (id - 1) // $PER + 1)) OR NOT starts_with(_source_file, 'landing/items/')), count(*) FILTER (WHERE NOT ends_with(_source_url, 'page=' || ((id - 1) // $PER + 1)) OR _source_url NOT LIKE '$BASE/bench/items?%'), count(DISTINCT _batch_id), count(DISTINCT _ingested_at), count(*) FILTER (WHERE _batch_id IS NULL OR _ingested_at IS NULL) FROM bronze.items")"
# The same records as DuckDB reads them from the landed pages.
check_eq "the rows are the landed records" \
    "$(duck "SELECT count(*), sum(r.id), count(DISTINCT r.name), min(r.updated_at), max(r.updated_at), sum(hash(r.name, r.id)) FROM (SELECT unnest(json.data) AS r FROM $(landed slow))" | tail -n +2)" \
    "$(q slow "SELECT count(*), sum(id), count(DISTINCT name), min(updated_at), max(updated_at), sum(hash(name, id)) FROM bronze.items")"
check_eq "the landing recorded every page" "$PAGES" "$(awk -F, '$1 == "landing.items" { print $4 }' run.out)"
check_eq "one file a page in the landing zone, none empty" "$PAGES,0" \
    "$(find slow/lake/landing -name 'page-*.json' | wc -l | tr -d ' '),$(find slow/lake/landing -empty -type f | wc -l | tr -d ' ')"

# A second run: the same pages, landed before: nothing new, bronze as it was.
sed -i 's/^rate_limit: .*/rate_limit: 0/' slow/sources/items.yml
"$SMELT" -C slow run --format csv > run2.out 2> run2.err
check_eq "a second run lands nothing and adds no version" "0,no new files,1" \
    "$?,$(awk -F, '$1 == "landing.items" { print $7 }' run2.out | tr -d '"'),$(ls slow/lake/bronze/items/_delta_log/*.json | wc -l | tr -d ' ')"

# Rebuilt from the landing zone alone (the server stopped): the same rows and times.
before=$(q slow "SELECT count(*), sum(id), min(_ingested_at), count(DISTINCT _source_file), sum(hash(_source_url)) FROM bronze.items")
kill $pids 2> /dev/null
"$SMELT" -C slow run --rebuild-bronze --format csv > rb.out 2> rb.err
check_eq "--rebuild-bronze without the API exits 0" 0 "$?"
check_eq "--rebuild-bronze: the same rows, provenance included" "$before" \
    "$(q slow "SELECT count(*), sum(id), min(_ingested_at), count(DISTINCT _source_file), sum(hash(_source_url)) FROM bronze.items")"

# --- shapes that change after the first chunks ---------------------------------------
# A key first seen on page 90: the chunk that holds it does not fit the plan
# of the first pages, so the load reads every page again with it as a column.
serve late_key late_key=90
mkproj lkey 40
"$SMELT" -v -C lkey run --format csv > run.out 2> run.err
check_eq "late key: run exits 0" 0 "$?"
check_eq "late key: every record, the key a column from page 90 on" "$EXPECT,$((11 * PER)),$((89 * PER + 1))" \
    "$(q lkey "$SUMS"),$(q lkey "SELECT count(late), min(id) FILTER (WHERE late = 'l' || id) FROM bronze.items")"
check_eq "late key: no data file outside the commit" "$(adds lkey 0)" \
    "$(find lkey/lake/bronze/items -name '*.parquet' | wc -l | tr -d ' ')"

# "num" a number on pages 1-89, a string from page 90: the chunk that holds
# page 90 fails on its type, and bronze gets num as the JSON text of every
# value, as when no page is read early.
serve late_str late_str=90
mkproj lstr 40
"$SMELT" -v -C lstr run --format csv > run.out 2> run.err
check_eq "late string: run exits 0" 0 "$?"
check_eq "late string: every record, num as JSON text" "$EXPECT,VARCHAR,1,\"\"\"s$N\"\"\"" \
    "$(q lstr "$SUMS"),$(q lstr "SELECT any_value(typeof(num)), min(num) FILTER (WHERE id = 1), min(num) FILTER (WHERE id = $N) FROM bronze.items")"
check_eq "late string: no data file outside the commit" "$(adds lstr 0)" \
    "$(find lstr/lake/bronze/items -name '*.parquet' | wc -l | tr -d ' ')"

# --- kill -9 while chunks are written ------------------------------------------------------
serve crash
mkproj crash 25
"$SMELT" -C crash run --format csv > crash.out 2> crash.err &
spid=$!
i=0
while [ -z "$(find crash/lake/bronze/items -name '*.parquet' 2> /dev/null)" ] && [ $i -lt 200 ]; do
    sleep 0.05
    i=$((i + 1))
done
kill -9 $spid 2> /dev/null
wait $spid 2> /dev/null
early=$(find crash/lake/bronze/items -name '*.parquet' 2> /dev/null | wc -l | tr -d ' ')
if [ "$early" -ge 1 ] && [ ! -e crash/lake/bronze/items/_delta_log/00000000000000000000.json ]; then
    ok "killed after $early data file(s) were written, before any bronze commit"
else
    not_ok "killed after a data file was written, before any bronze commit" "files: $early" \
        "$(ls crash/lake/bronze/items/_delta_log 2>&1)"
fi
sed -i 's/^rate_limit: .*/rate_limit: 0/' crash/sources/items.yml
"$SMELT" -C crash run --format csv > rerun.out 2> rerun.err
check_eq "the rerun exits 0" 0 "$?"
check_eq "after the crash and a rerun: every record exactly once" "$EXPECT" "$(q crash "$SUMS")"
check_eq "after the crash: every page landed once" "$PAGES,$PAGES" \
    "$(sqlite3 crash/.smelt/state.db "SELECT count(*), count(DISTINCT sha256) FROM landed_files WHERE source = 'items'" | tr '|' ',')"

done_testing
