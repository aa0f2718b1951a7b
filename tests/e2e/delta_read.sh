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
# Nested fields have physical names too (in structs, list elements, map keys
# and values): smelt shows the logical ones. Expected types are the log's
# schemaString; values are those of the Delta project's generator (row i of
# 0..4: nested_struct = (str(i), (i)), array_of_structs = [(i), (i)],
# map_of_rows = {i+1: (i*20)}, struct_of_arrays_maps_of_structs =
# ([i, i+1], {[i, i+1]: (i+2)}), and one row of NULLs), and the same read
# straight from the Parquet files by DuckDB with the physical names.
check_eq "column mapping: nested fields by their logical names" \
    'nested_struct:STRUCT(aa VARCHAR; ac STRUCT(aca INTEGER))|array_of_map_of_arrays:MAP(INTEGER; INTEGER[])[]|array_of_structs:STRUCT(ab INTEGER)[]|struct_of_arrays_maps_of_structs:STRUCT(aa INTEGER[]; ab MAP(INTEGER[]; STRUCT(aca INTEGER)))|map_of_rows:MAP(INTEGER; STRUCT(ab BIGINT))' \
    "$(q "SELECT replace(string_agg(column_name || ':' || column_type, '|'), ',', ';') FROM (DESCRIBE ext.cm) WHERE column_name IN ('nested_struct', 'array_of_structs', 'struct_of_arrays_maps_of_structs', 'map_of_rows', 'array_of_map_of_arrays')")"
LOGICAL="count(nested_struct), string_agg(nested_struct.aa, '' ORDER BY nested_struct.aa), sum(nested_struct.ac.aca),
    sum(array_of_structs[1].ab + array_of_structs[2].ab), sum(map_values(map_of_rows)[1].ab), sum(map_keys(map_of_rows)[1]),
    sum(map_values(struct_of_arrays_maps_of_structs.ab)[1].aca), sum(map_keys(struct_of_arrays_maps_of_structs.ab)[1][2]),
    sum(struct_of_arrays_maps_of_structs.aa[2]),
    count(*) FILTER (nested_struct IS NULL AND array_of_structs IS NULL AND map_of_rows IS NULL AND struct_of_arrays_maps_of_structs IS NULL)"
check_eq "column mapping: nested values, as the generator wrote them" "5,01234,10,20,200,15,20,15,15,1" \
    "$(q "SELECT $LOGICAL FROM ext.cm")"
# the same by physical names (schemaString), read by DuckDB alone
PHYSICAL='count(ns), string_agg(ns."col-7295e744-4c2c-48a1-baf5-3bb131ec68ea", '"''"' ORDER BY ns."col-7295e744-4c2c-48a1-baf5-3bb131ec68ea"),
    sum(ns."col-15ecbe5f-906d-4d64-a627-eb16eb4b4410"."col-562033a2-86d8-4eb3-83e6-87eb2f27314f"),
    sum(a_s[1]."col-93cac05c-2edd-409e-83f1-cebfd09bfc75" + a_s[2]."col-93cac05c-2edd-409e-83f1-cebfd09bfc75"),
    sum(map_values(mr)[1]."col-d8438cc9-31ef-4b23-ac1c-1dff3e0a5530"), sum(map_keys(mr)[1]),
    sum(map_values(sa."col-b816c867-4d4f-402f-85cf-786b58d14d05")[1]."col-6cb288b5-d45e-46aa-98be-e2aa06665232"),
    sum(map_keys(sa."col-b816c867-4d4f-402f-85cf-786b58d14d05")[1][2]), sum(sa."col-fae23ffb-8aaa-43b7-982b-0930667ddae0"[2]),
    count(*) FILTER (ns IS NULL AND a_s IS NULL AND mr IS NULL AND sa IS NULL)'
check_eq "column mapping: nested values equal the Parquet files read by physical names" \
    "$(duck "SELECT $PHYSICAL FROM (SELECT \"col-e08b8668-6c8f-4081-aa77-357325212630\" AS ns,
        \"col-5d038bad-e2b1-4fe7-a444-22fc3ac6e52a\" AS a_s, \"col-5e848aab-e51a-46f0-8650-eee8f46f1149\" AS mr,
        \"col-d4888d0e-973f-486e-b345-d69a53dd193c\" AS sa FROM read_parquet('$G/table-with-columnmapping-mode-name/*.parquet'))" | tail -1)" \
    "$(q "SELECT $LOGICAL FROM ext.cm")"

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
