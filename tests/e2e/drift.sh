#!/bin/sh
# schema_drift: a file with a column bronze does not have, or without a
# declared one, or whose column changed type. evolve adds new columns (a
# missing one is NULL), fail stops the bronze task naming the file, the
# columns and the key to change (nothing committed), quarantine sets the
# file aside. Expected rows come from DuckDB (build/duckq) reading the same
# files by their own headers, never from smelt.
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1

q() { smelt_q "$1" "$2" 2> q.err | tail -n +2; }
d() { duck "$@" 2> d.err | tail -n +2; }
run_smelt() {
    "$SMELT" -C "$1" run --format csv > run.out 2> run.err
    rc=$?
}
version() { ls "$1"/_delta_log/*.json 2> /dev/null | wc -l | tr -d ' '; }

# --- CSV, declared columns -------------------------------------------------------------
mkdir -p p/sources p/in/e p/in/f p/in/q
cd p
echo "name: p" > smelt.yml
for s in e f q; do
    printf 'kind: files\npath: in/%s\nformat: csv\ncolumns:\n  id: INTEGER\n  v: VARCHAR\n  amount: DECIMAL(8,2)\n' "$s" > sources/$s.yml
    printf 'id,v,amount\n1,a,1.50\n2,b,2.50\n' > in/$s/1.csv
done
printf 'schema_drift: fail\n' >> sources/f.yml
printf 'schema_drift: quarantine\n' >> sources/q.yml
cd ..
run_smelt p
check_eq "first files (as declared): exits 0" 0 "$rc"
# a new column, a missing one, columns in another order, and a gzip file
for s in e f q; do
    printf 'id,v,amount,discount\n3,c,3.50,0.25\n4,d,4.50,\n' > p/in/$s/2.csv
    printf 'id,amount\n5,5.50\n' > p/in/$s/3.csv
    printf 'amount,v,id\n6.50,f,6\n' | gzip -c > p/in/$s/4.csv.gz
    printf '"id","v","amount"\n7,g,7.50\n' > p/in/$s/5.csv
done
fv=$(version p/lake/bronze/f)
run_smelt p
check_eq "drift: the run exits 1 (bronze.f fails)" 1 "$rc"

want=$(d "SELECT string_agg(concat_ws(':', id, coalesce(v, 'NULL'), amount, coalesce(CAST(discount AS VARCHAR), 'NULL')), '|' ORDER BY id) FROM read_csv(['p/in/e/1.csv', 'p/in/e/2.csv', 'p/in/e/3.csv', 'p/in/e/4.csv.gz', 'p/in/e/5.csv'], union_by_name=true, header=true, types={'id': 'INTEGER', 'amount': 'DECIMAL(8,2)'})")
check_eq "evolve: every file read by its header (new column added, missing one NULL, order by name)" "$want" \
    "$(q p "SELECT string_agg(concat_ws(':', id, coalesce(v, 'NULL'), amount, coalesce(CAST(discount AS VARCHAR), 'NULL')), '|' ORDER BY id) FROM bronze.e")"
check_eq "evolve: the new column's type is what DuckDB sniffs in its file" \
    "$(d "SELECT column_type FROM (DESCRIBE SELECT * FROM read_csv('p/in/e/2.csv')) WHERE column_name = 'discount'")" \
    "$(q p "SELECT column_type FROM (DESCRIBE bronze.e) WHERE column_name = 'discount'")"
check_eq "evolve: bronze.e columns: declared, the new one, provenance" "id|v|amount|discount|_batch_id|_source_file|_ingested_at|_source_line" \
    "$(q p "SELECT string_agg(column_name, '|') FROM (DESCRIBE bronze.e)")"
check_eq "evolve: _source_line still the line in each file" "1:2|2:3|3:2|4:3|5:2|6:2|7:2" \
    "$(q p "SELECT string_agg(id || ':' || _source_line, '|' ORDER BY id) FROM bronze.e")"
check_eq "evolve: the task notes the new column" '"1 new column"' "$(grep '^bronze.e,' run.out | cut -d, -f7)"
check_contains "evolve: an info line names the file and the column" "2.csv': new column 'discount'; bronze.e gets it" "$(cat run.err)"
check_eq "evolve: nothing quarantined" 0 "$(q p 'SELECT count(*) FROM quarantine.e')"
before=$(q p "SELECT string_agg(CAST(x AS VARCHAR), '|' ORDER BY id) FROM (SELECT * FROM bronze.e) x")
"$SMELT" -C p ingest e --rebuild-bronze --format csv > rb.out 2> rb.err
check_eq "evolve: a rebuild from the landing zone gives the same rows and columns (the files bring the new one back)" \
    "$before" "$(q p "SELECT string_agg(CAST(x AS VARCHAR), '|' ORDER BY id) FROM (SELECT * FROM bronze.e) x")"

err=$(grep '^smelt: error: bronze.f:' run.err)
check_contains "fail: the error names the file" "2.csv'" "$err"
check_contains "fail: the error names the new column" "new column 'discount'" "$err"
check_contains "fail: the error names the key to change and where" "'schema_drift: fail' in sources/f.yml" "$err"
check_eq "fail: nothing committed to bronze.f" "$fv" "$(version p/lake/bronze/f)"
check_eq "fail: bronze.f still has the first file only" 2 "$(q p 'SELECT count(*) FROM bronze.f')"
run_smelt p
check_eq "fail: it fails again on the next run (the files are still there)" 1 "$rc"
sed -i 's/^schema_drift: fail/schema_drift: evolve/' p/sources/f.yml
run_smelt p
check_eq "fail: with schema_drift: evolve the next run loads them" "0:7" "$rc:$(q p 'SELECT count(*) FROM bronze.f')"

check_eq "quarantine: the files with the declared columns load (1.csv, 4.csv.gz in another order, 5.csv quoted)" "1|2|6|7" \
    "$(q p "SELECT string_agg(CAST(id AS VARCHAR), '|' ORDER BY id) FROM bronze.q")"
check_eq "quarantine: each drifted file is quarantined whole, once" "2.csv|3.csv" \
    "$(q p "SELECT string_agg(f, '|' ORDER BY f) FROM (SELECT regexp_replace(_source_file, '^.*/', '') AS f FROM quarantine.q WHERE error_type = 'SCHEMA DRIFT' AND line IS NULL)")"
check_contains "quarantine: the reason names the new column" "new column 'discount'" \
    "$(q p "SELECT error FROM quarantine.q WHERE _source_file LIKE '%/2.csv'")"
check_contains "quarantine: the reason names the missing column" "no column 'v'" \
    "$(q p "SELECT error FROM quarantine.q WHERE _source_file LIKE '%/3.csv'")"
check_contains "quarantine: the reason names the policy" "schema_drift: quarantine' in sources/q.yml" \
    "$(q p "SELECT error FROM quarantine.q WHERE _source_file LIKE '%/3.csv'")"
check_eq "quarantine: columns in another order are read by name" "6:f:6.50" \
    "$(q p "SELECT id || ':' || v || ':' || amount FROM bronze.q WHERE id = 6")"
check_eq "quarantine: bronze.q keeps its declared columns" "id|v|amount" \
    "$(q p "SELECT string_agg(column_name, '|') FROM (DESCRIBE bronze.q) WHERE column_name NOT LIKE '\\_%' ESCAPE '\\'")"

# --- NDJSON, declared columns -----------------------------------------------------------------
mkdir -p n/sources n/in/e n/in/q
echo "name: n" > n/smelt.yml
printf 'kind: files\npath: in/e\nformat: ndjson\ncolumns:\n  id: INTEGER\n  v: VARCHAR\n' > n/sources/e.yml
printf 'kind: files\npath: in/q\nformat: ndjson\ncolumns:\n  id: INTEGER\n  v: VARCHAR\nschema_drift: quarantine\n' > n/sources/q.yml
for s in e q; do
    printf '{"id": 1, "v": "a"}\n{"id": 2}\n' > n/in/$s/1.ndjson
    printf '{"id": 3, "v": "c", "score": 7.5, "tags": ["x"]}\n{"id": 4, "v": "d", "score": 1}\n' > n/in/$s/2.ndjson
done
run_smelt n
check_eq "ndjson: exits 0" 0 "$rc"
check_eq "ndjson evolve: a key in some lines only is not drift; new keys become columns" \
    "1:a:NULL:NULL|2:NULL:NULL:NULL|3:c:7.5:[\"x\"]|4:d:1.0:NULL" \
    "$(q n "SELECT string_agg(concat_ws(':', id, coalesce(v, 'NULL'), coalesce(CAST(score AS VARCHAR), 'NULL'), coalesce(tags, 'NULL')), '|' ORDER BY id) FROM bronze.e" | sed 's/^"//; s/"$//; s/""/"/g')"
check_eq "ndjson evolve: the new columns' types are DuckDB's (nested as JSON text)" \
    "$(d "SELECT column_type FROM (DESCRIBE SELECT * FROM read_json('n/in/e/2.ndjson')) WHERE column_name = 'score'"):VARCHAR" \
    "$(q n "SELECT string_agg(column_type, ':' ORDER BY column_name) FROM (DESCRIBE bronze.e) WHERE column_name IN ('score', 'tags')")"
check_eq "ndjson quarantine: the file with new keys is set aside" "2.ndjson:SCHEMA DRIFT" \
    "$(q n "SELECT regexp_replace(_source_file, '^.*/', '') || ':' || error_type FROM quarantine.q")"
check_eq "ndjson quarantine: the other file loads" "1|2" "$(q n "SELECT string_agg(CAST(id AS VARCHAR), '|' ORDER BY id) FROM bronze.q")"

# --- NDJSON: a key that first appears deep in a file -------------------------------------------
# Line 30001 brings 'late' (and, in the gzip file, an escaped 'l\u00e4ter'): past DuckDB's
# schema sample (20,480 lines), which a read with declared columns would drop without a word.
mkdir -p l/sources l/in/le l/in/lf l/in/lq l/in/lu
echo "name: l" > l/smelt.yml
for s in le lf lq lu; do
    printf 'kind: files\npath: in/%s\nformat: ndjson\n' "$s" > l/sources/$s.yml
done
for s in le lf lq; do
    printf 'columns:\n  id: INTEGER\n  v: VARCHAR\n' >> l/sources/$s.yml
done
printf 'schema_drift: fail\n' >> l/sources/lf.yml
printf 'schema_drift: quarantine\n' >> l/sources/lq.yml
awk 'BEGIN { for (i = 1; i <= 30000; i++) printf "{\"id\": %d, \"v\": \"x%d\"}\n", i, i;
             print "{\"id\": 30001, \"v\": \"y\", \"late\": 42}"; print "{\"id\": 30002}" }' > late.ndjson
for s in le lf lq lu; do cp late.ndjson l/in/$s/; done
awk 'BEGIN { for (i = 1; i <= 25000; i++) printf "{\"id\": %d}\n", 100000 + i;
             print "{\"id\": 1, \"l\\u00e4ter\": \"z\"}" }' | gzip -c > l/in/le/later.ndjson.gz
# the same in a JSON document: record 25,001 of its array brings 'late'
mkdir -p l/in/lj l/in/lk
printf 'kind: files\npath: in/lj\nformat: json\ncolumns:\n  id: INTEGER\n' > l/sources/lj.yml
printf 'kind: files\npath: in/lk\nformat: json\n' > l/sources/lk.yml
awk 'BEGIN { printf "["; for (i = 1; i <= 25000; i++) printf "{\"id\": %d, \"v\": \"x\"},\n", i;
             print "{\"id\": 25001, \"v\": \"y\", \"late\": 7}]" }' > late.json
cp late.json l/in/lj/ && cp late.json l/in/lk/
# ... and zstd-compressed, which DuckDB reads itself (smelt does not see its keys first)
mkdir -p l/in/lz
printf 'kind: files\npath: in/lz\nformat: json\n' > l/sources/lz.yml
zstd -q -c late.json > l/in/lz/late.json.zst
# a file of 10,001 distinct keys (a map written as an object per line): set aside, not 10,001 columns
mkdir -p l/in/lw
printf 'kind: files\npath: in/lw\nformat: ndjson\ncolumns:\n  id: INTEGER\n' > l/sources/lw.yml
awk 'BEGIN { for (i = 1; i <= 10001; i++) printf "{\"id\": %d, \"k%d\": 1}\n", i, i }' > l/in/lw/wide.ndjson
printf '{"id": 1}\n{"id": 2}\n' > l/in/lw/narrow.ndjson
lv=$(version l/lake/bronze/lf)
run_smelt l
check_eq "late key: the 'fail' source stops the run" 1 "$rc"
check_contains "late key, fail: the error names the file and the key" \
    "late.ndjson': new column 'late'" "$(cat run.err)"
check_eq "late key, fail: nothing committed" "$lv" "$(version l/lake/bronze/lf)"
check_eq "late key, quarantine: the file is set aside" "late.ndjson:SCHEMA DRIFT" \
    "$(q l "SELECT regexp_replace(_source_file, '^.*/', '') || ':' || error_type FROM quarantine.lq")"
want=$(d "SELECT count(*) || ':' || sum(late) || ':' || count(late) FROM read_json('late.ndjson', format='newline_delimited', sample_size=-1)")
check_eq "late key, evolve: bronze gets the column, with the line's value (DuckDB reading the whole file)" \
    "$want" "$(q l "SELECT count(*) || ':' || sum(late) || ':' || count(late) FROM bronze.le WHERE _source_file LIKE '%/late.ndjson'")"
check_eq "late key, evolve: an escaped key deep in a gzip file becomes its column, unescaped" "1:z" \
    "$(q l "SELECT count(*) || ':' || max(\"läter\") FROM bronze.le WHERE \"läter\" IS NOT NULL")"
check_eq "late key, no declared columns: bronze gets it too, typed as DuckDB types the whole file" \
    "$want:$(d "SELECT column_type FROM (DESCRIBE SELECT * FROM read_json('late.ndjson', format='newline_delimited', sample_size=-1)) WHERE column_name = 'late'")" \
    "$(q l "SELECT count(*) || ':' || sum(late) || ':' || count(late) || ':' || (SELECT column_type FROM (DESCRIBE bronze.lu) WHERE column_name = 'late') FROM bronze.lu")"
wantj=$(d "SELECT count(*) || ':' || sum(late) || ':' || count(late) FROM read_json('late.json', format='array', sample_size=-1)")
check_eq "late key, json array: bronze gets the column with the record's value (declared columns)" \
    "$wantj" "$(q l "SELECT count(*) || ':' || sum(late) || ':' || count(late) FROM bronze.lj")"
check_eq "late key, json array: bronze gets the column with the record's value (no columns)" \
    "$wantj" "$(q l "SELECT count(*) || ':' || sum(late) || ':' || count(late) FROM bronze.lk")"
check_eq "late key, json array read compressed by DuckDB: described from the whole file" \
    "$wantj" "$(q l "SELECT count(*) || ':' || sum(late) || ':' || count(late) FROM bronze.lz")"
check_eq "too many keys: the file is set aside as unreadable, saying why" \
    "wide.ndjson:UNREADABLE FILE:true" \
    "$(q l "SELECT regexp_replace(_source_file, '^.*/', '') || ':' || error_type || ':' || contains(error, 'more than 10000 distinct top-level keys') FROM quarantine.lw")"
check_eq "too many keys: the other file loads" "1|2" "$(q l "SELECT string_agg(CAST(id AS VARCHAR), '|' ORDER BY id) FROM bronze.lw")"

# --- Parquet and JSON without declared columns: types --------------------------------------------
mkdir -p t/sources t/in/p t/in/j t/in/x t/in/v
echo "name: t" > t/smelt.yml
printf 'kind: files\npath: in/p\nformat: parquet\n' > t/sources/p.yml
printf 'kind: files\npath: in/v\nformat: parquet\n' > t/sources/v.yml
printf 'kind: files\npath: in/x\nformat: parquet\nschema_drift: quarantine\n' > t/sources/x.yml
printf 'kind: files\npath: in/j\nformat: json\n' > t/sources/j.yml
for s in p v x; do
    duck "COPY (SELECT 1::BIGINT AS id, 'a' AS v, 1.5::DOUBLE AS w) TO 't/in/$s/1.parquet'" > /dev/null
done
# one load of two JSON files whose 'n' is an integer in one and a fraction in the other
printf '[{"k": 1, "n": 1}]' > t/in/j/1.json
printf '[{"k": 2, "n": 2.5}]' > t/in/j/2.json
run_smelt t
check_eq "typed files: the first load exits 0" 0 "$rc"
check_eq "json: within one load, a column widens to hold both files (BIGINT and DOUBLE give DOUBLE)" "DOUBLE:1.0|2.5" \
    "$(q t "SELECT (SELECT column_type FROM (DESCRIBE bronze.j) WHERE column_name = 'n') || ':' || string_agg(CAST(n AS VARCHAR), '|' ORDER BY k) FROM bronze.j")"
for s in p x; do
    duck "COPY (SELECT 'two' AS id, 'b' AS v, 2.5::DOUBLE AS w) TO 't/in/$s/2.parquet'" > /dev/null
done
for s in v x; do
    duck "COPY (SELECT 3::INTEGER AS id, 'c' AS v, 3.5::DOUBLE AS w) TO 't/in/$s/3.parquet'" > /dev/null
    duck "COPY (SELECT 4::BIGINT AS id, 'd' AS v) TO 't/in/$s/4.parquet'" > /dev/null
done
pv=$(version t/lake/bronze/p)
run_smelt t
check_eq "parquet: a column changing type fails the load (evolve)" 1 "$rc"
check_contains "parquet: the error names the file, the column, the old and the new type" \
    "2.parquet': column 'id' changes type from BIGINT to VARCHAR in bronze.p" "$(cat run.err)"
check_eq "parquet: nothing committed" "$pv" "$(version t/lake/bronze/p)"
check_eq "parquet evolve: a narrower integer loads, a missing column is NULL" "1:1.5|3:3.5|4:NULL" \
    "$(q t "SELECT string_agg(id || ':' || coalesce(CAST(w AS VARCHAR), 'NULL'), '|' ORDER BY id) FROM bronze.v")"
check_eq "parquet quarantine: the retyped file and the one without w are set aside" \
    "2.parquet:column 'id' changes type from BIGINT to VARCHAR|4.parquet:no column 'w'" \
    "$(q t "SELECT string_agg(regexp_replace(_source_file, '^.*/', '') || ':' || regexp_extract(error, '(column .* to VARCHAR|no column ''w'')'), '|' ORDER BY 1) FROM quarantine.x")"
check_eq "parquet quarantine: the others load" "1|3" \
    "$(q t "SELECT string_agg(CAST(id AS VARCHAR), '|' ORDER BY id) FROM bronze.x")"
printf 'schema_drift: quarantine\n' >> t/sources/p.yml
run_smelt t
check_eq "parquet: with schema_drift: quarantine, the next run sets the file aside and succeeds" "0:1:1" \
    "$rc:$(q t "SELECT count(*) FROM bronze.p"):$(q t "SELECT count(*) FROM quarantine.p WHERE error_type = 'SCHEMA DRIFT'")"

# --- configuration ----------------------------------------------------------------------------------
printf 'schema_drift: sometimes\n' >> t/sources/j.yml
"$SMELT" -C t validate > /dev/null 2> val.err
check_eq "an unknown schema_drift is a configuration error" 2 "$?"
check_contains "an unknown schema_drift names the choices" "evolve" "$(cat val.err)"

done_testing
