#!/bin/sh
# Reading Delta tables written by Spark (../shared/testdata/delta-golden and
# delta-dat) through `smelt crawl` + `smelt query`. Expected answers are the
# ones the Delta project's own test suites assert (summarized in
# delta-golden/SOURCE.txt), or the Parquet files read directly by DuckDB.
. "$(dirname "$0")/lib.sh"
G="$TESTDATA/delta-golden"
P="$WORK/p"
"$SMELT" init "$P" --rows 200 --days 1 >/dev/null || not_ok "init"

crawl() { "$SMELT" -C "$P" crawl "$G/$1" --as "ext.$2" >/dev/null 2>"$WORK/err"; }
q() { smelt_q "$P" "$1" | tail -n +2; }
qv() { "$SMELT" -C "$P" query --format csv --as-of "$2" "$1" | tail -n +2; }

crawl time-travel-start-start20-start40 tt
check_eq "time travel: v0 rows 0..9" "10,45" "$(qv 'SELECT count(*), sum(id) FROM ext.tt' 0)"
check_eq "time travel: v1 rows 0..19" "20,190" "$(qv 'SELECT count(*), sum(id) FROM ext.tt' 1)"
check_eq "time travel: latest rows 0..29" "30,435" "$(q 'SELECT count(*), sum(id) FROM ext.tt')"

crawl snapshot-data2-deleted sd
check_eq "removes: v1 appends" "20" "$(qv 'SELECT count(*) FROM ext.sd' 1)"
check_eq "removes: v2 overwrite" "10,10" "$(qv "SELECT count(*), count(*) FILTER (col2 LIKE 'data-2-%') FROM ext.sd" 2)"
check_eq "removes: latest after DELETE" "20,20" "$(q "SELECT count(*), count(*) FILTER (col2 LIKE 'data-3-%') FROM ext.sd")"

crawl basic-with-inserts-updates up
check_eq "update: v0 untouched" "100,0" "$(qv "SELECT count(*), count(*) FILTER (str = 'N/A') FROM ext.up" 0)"
check_eq "update: latest id<50 N/A" "100,50,50" "$(q "SELECT count(*), count(*) FILTER (str = 'N/A' AND id < 50), count(*) FILTER (str = 'val=' || id) FROM ext.up")"

crawl basic-with-inserts-deletes-checkpoint ck
check_eq "checkpoint: latest 41 ids" "41,0,65" "$(q 'SELECT count(*), min(id), max(id) FROM ext.ck')"
check_eq "checkpoint: ids as listed" "0-4 10-14 20-24 30-34 40-44 50-65" \
    "$(q "SELECT string_agg(lo || '-' || hi, ' ' ORDER BY lo) FROM (SELECT min(id) lo, max(id) hi FROM (SELECT id, id - row_number() OVER (ORDER BY id) g FROM ext.ck) GROUP BY g)")"

crawl corrupted-last-checkpoint-kernel cor
check_eq "corrupt _last_checkpoint: falls back to listing" "100,0,99" "$(q 'SELECT count(*), min(id), max(id) FROM ext.cor')"

crawl data-reader-partition-values pv
check_eq "partition values: 3 rows, one all-null" "3,1" \
    "$(q "SELECT count(*), count(*) FILTER (as_int IS NULL AND as_long IS NULL AND as_string IS NULL AND as_date IS NULL AND as_timestamp IS NULL AND as_big_decimal IS NULL) FROM ext.pv")"
check_eq "partition values: typed" "0,true,0,null,2021-09-08,2021-09-08 11:11:11" \
    "$(q "SELECT as_int, as_boolean, as_string, as_string_lit_null, as_date, CAST(as_timestamp AS TIMESTAMP) FROM ext.pv WHERE value = '0'")"

crawl basic-decimal-table dec
check_eq "decimal partitions and columns" "4,-887.88,2342222.23454" \
    "$(q 'SELECT count(*), sum(col1), max(part) FROM ext.dec')"

crawl data-reader-escaped-chars esc
check_eq "escaped partition values" "foo1:bar+%21|foo2:bar+%22|foo3:bar+%23" \
    "$(q "SELECT string_agg(_1 || ':' || _2, '|' ORDER BY _1) FROM ext.esc")"

crawl time-travel-schema-changes-b sc
check_eq "schema evolution: v0 has one column" "1" "$("$SMELT" -C "$P" query --format csv --as-of 0 'SELECT * FROM ext.sc LIMIT 1' | head -1 | tr ',' '\n' | wc -l | tr -d ' ')"
check_eq "schema evolution: latest, old rows null" "20,10,145" "$(q 'SELECT count(*), count(*) FILTER (part IS NULL), sum(part) FROM ext.sc')"

crawl table-with-columnmapping-mode-name cm
check_eq "column mapping (name): rows" "6" "$(q 'SELECT count(*) FROM ext.cm')"

crawl data-skipping-basic-stats-all-types ds
check_eq "orphan file not in the log is not read" "1" "$(q 'SELECT count(*) FROM ext.ds')"

crawl collations-table col
check_eq "empty table has its columns" "0,4" "$(q "SELECT (SELECT count(*) FROM ext.col), (SELECT count(*) FROM (DESCRIBE ext.col))")"

crawl data-reader-primitives prim
check_eq "primitives with a null row" "11,1,45" "$(q 'SELECT count(*), count(*) FILTER (as_int IS NULL), sum(as_long) FROM ext.prim')"

crawl data-reader-nested-struct ns
check_eq "nested struct" "10,45,45" "$(q 'SELECT count(*), sum(b), sum(a.ac.acb) FROM ext.ns')"

crawl data-reader-array-primitives arr
check_eq "array columns" "10,45" "$(q 'SELECT count(*), sum(as_array_int[1]) FROM ext.arr')"

crawl basic-dv-no-checkpoint dv
check_eq "deletion vector (file): rows 2..9" "8,2,9" "$(q 'SELECT count(*), min(id), max(id) FROM ext.dv')"
crawl log-replay-dv-key-cases dvk
check_eq "deletion vectors re-added per version: 0, 7, 14 deleted" "47,21 28 35 42 49" \
    "$(q "SELECT count(*), string_agg(CAST(id AS VARCHAR), ' ' ORDER BY id) FILTER (id % 7 = 0) FROM ext.dvk")"
check_eq "deletion vectors: each version" "50 49 48 47" \
    "$(for v in 0 1 2 3; do qv 'SELECT count(*) FROM ext.dvk' $v; done | tr '\n' ' ' | sed 's/ $//')"

for t in deltalog-invalid-protocol-version:"reader version 99" no-delta-log-folder:"no Delta table"; do
    name=${t%%:*}
    want=${t#*:}
    if "$SMELT" -C "$P" crawl "$G/$name" --as ext.bad >/dev/null 2>"$WORK/err"; then
        not_ok "$name is refused" "crawl succeeded"
    else
        check_contains "$name is refused with a reason" "$want" "$(cat "$WORK/err")"
    fi
done

# delta-dat: contents equal expected/ Parquet read directly by DuckDB
for case in basic_append basic_partitioned; do
    "$SMELT" -C "$P" crawl "$TESTDATA/delta-dat/$case/delta" --as "dat.$case" >/dev/null
    exp=$(duck "SELECT count(*), sum(number) FROM read_parquet('$TESTDATA/delta-dat/$case/expected/latest/table_content.parquet')" | tail -1)
    check_eq "delta-dat $case latest" "$exp" "$(q "SELECT count(*), sum(number) FROM dat.$case")"
done

done_testing
