#!/bin/sh
# smelt ingest: landing and bronze of some sources without the models; a
# file landed again on purpose (--reprocess); columns written from the files
# (--infer); smelt trace from bronze, silver and gold back to the landed
# files. Expected figures come from the files themselves (python3, DuckDB
# through build/duckq, sha256sum, sqlite3), never from smelt's own output.
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1

q() { smelt_q "$1" "$2" 2> q.err | tail -n +2; }
d() { duck "$@" 2> d.err | tail -n +2; }
check_match() {
    if printf '%s\n' "$3" | grep -Eq -- "$2"; then ok "$1"; else not_ok "$1" "expected to match: $2" "actual: $3"; fi
}

# --- a small project: two CSV sources, one NDJSON, one model --------------------
mkdir -p p/sources p/in/a p/in/b p/in/n p/models/silver
cd p
echo "name: p" > smelt.yml
printf 'kind: files\npath: in/a\nformat: csv\ncolumns:\n  id: INTEGER\n  v: VARCHAR\n' > sources/a.yml
printf 'kind: files\npath: in/b\nformat: csv\ncolumns:\n  id: INTEGER\n  w: DOUBLE\n' > sources/b.yml
printf 'kind: files\npath: in/n\nformat: ndjson\ncolumns:\n  id: INTEGER\n  tag: VARCHAR\n' > sources/n.yml
printf 'id,v\n1,one\n2,two\n3,three\n' > in/a/a1.csv
printf 'id,v\n4,four\nx,bad\n5,five\n' | gzip -c > in/a/a2.csv.gz
printf 'id,w\n1,1.5\n2,2.5\n' > in/b/b1.csv
printf '{"id": 1, "tag": "x"}\n{"id": 2, "tag": "y"}\n' > in/n/n1.ndjson
echo "SELECT id, v FROM bronze.a QUALIFY row_number() OVER (PARTITION BY id ORDER BY _ingested_at DESC) = 1" > models/silver/a.sql
printf 'unique_key: id\n' > models/silver/a.yml
cd ..

"$SMELT" -C p ingest a b --format csv > ing.out 2> ing.err
check_eq "ingest a b: exits 0" 0 "$?"
check_eq "ingest a b: the tasks of a and b only, no model" \
    "landing.a|bronze.a|landing.b|bronze.b" "$(tail -n +2 ing.out | cut -d, -f1 | paste -sd'|')"
want=$(d "SELECT count(id) FROM read_csv(['p/in/a/a1.csv', 'p/in/a/a2.csv.gz'], columns={'id': 'INTEGER', 'v': 'VARCHAR'}, header=true, auto_detect=false, ignore_errors=true)")
check_eq "ingest a b: bronze.a has the good lines of both files ($want)" "$want" "$(q p 'SELECT count(*) FROM bronze.a')"
check_eq "ingest a b: the bad line is in quarantine.a" "3,x,bad" \
    "$(q p "SELECT line, raw FROM quarantine.a" | tr -d '"')"
check_eq "ingest a b: bronze.n was not loaded" "" "$(ls p/lake/bronze 2> /dev/null | grep -x n)"
check_eq "ingest a b: silver.a was not built" "" "$(ls p/lake/silver 2> /dev/null)"
check_eq "ingest a b: the summary's rows out are bronze's rows" "$want" "$(grep '^bronze.a,' ing.out | cut -d, -f4)"
check_eq "ingest: state.db records the run as 'ingest'" "ingest" \
    "$(sqlite3 p/.smelt/state.db 'SELECT command FROM runs ORDER BY id DESC LIMIT 1')"
"$SMELT" -C p ingest --format json > ing.json 2> /dev/null
check_eq "ingest (all): every source's two tasks, in JSON" "6,0" \
    "$(python3 -c 'import json,sys; r=json.load(open("ing.json")); print(len(r["tasks"]), r["failed"], sep=",")')"
check_eq "ingest (all): only n had anything new" "bronze.n:success" \
    "$(python3 -c 'import json; r=json.load(open("ing.json")); print(" ".join(t["task"]+":"+t["state"] for t in r["tasks"] if t["task"].startswith("bronze") and t["state"] != "skipped"))')"
"$SMELT" -C p ingest nope > /dev/null 2> ing.err
check_eq "ingest nope: exits 2" 2 "$?"
check_contains "ingest nope: names the sources there are" "no source 'nope' in sources/: the sources are 'a', 'b', 'n'" "$(cat ing.err)"
"$SMELT" -C p ingest --bogus > /dev/null 2>&1
check_eq "ingest --bogus: exits 2" 2 "$?"
"$SMELT" -C p ingest --help > help.out 2>&1
check_contains "ingest --help: shows the usage" "smelt ingest --infer SOURCE" "$(cat help.out)"
# a failing source: exit 1, as smelt run
mv p/in/b p/in/b.away
"$SMELT" -C p ingest b --format csv > ing.out 2> ing.err
check_eq "ingest of a source whose folder is gone: exits 1" 1 "$?"
check_contains "ingest of a source whose folder is gone: says so on stderr" "smelt: error: landing.b:" "$(cat ing.err)"
mv p/in/b.away p/in/b

# --- --reprocess ------------------------------------------------------------------
n_before=$(q p 'SELECT count(*) FROM bronze.a')
"$SMELT" -C p ingest a --reprocess p/in/a/a1.csv --format csv > rep.out 2> rep.err
check_eq "reprocess: exits 0" 0 "$?"
check_eq "reprocess: the landing task landed 1 file again" "1" "$(grep '^landing.a,' rep.out | cut -d, -f4)"
check_eq "reprocess: its 3 rows are in bronze a second time" "$((n_before + 3))" "$(q p 'SELECT count(*) FROM bronze.a')"
check_eq "reprocess: a new batch, the same bytes" "2,1" \
    "$(q p "SELECT count(DISTINCT _batch_id), count(DISTINCT regexp_replace(_source_file, '^.*/', '')) FROM bronze.a WHERE _source_file LIKE '%a1.csv'")"
check_eq "reprocess: state.db: a second landed row of the same sha256, marked as landing the first again" \
    "$(sha256sum < p/in/a/a1.csv | cut -d' ' -f1)|2|1" \
    "$(sqlite3 p/.smelt/state.db "SELECT sha256, count(*), count(reprocess_of) FROM landed_files WHERE source = 'a' AND orig_path LIKE '%a1.csv' GROUP BY sha256" | tr -s '|')"
check_eq "reprocess: both landed copies are byte for byte the file" "2" \
    "$(find p/lake/landing/a -name a1.csv -exec sha256sum {} + | cut -d' ' -f1 | grep -c "$(sha256sum < p/in/a/a1.csv | cut -d' ' -f1)")"
check_contains "reprocess: the manifest says which landing it repeats" '"reprocess_of":' \
    "$(cat "$(dirname "$(sqlite3 p/.smelt/state.db "SELECT landing_path FROM landed_files WHERE reprocess_of IS NOT NULL ORDER BY id DESC LIMIT 1")")/_manifest.json")"
landed=$(sqlite3 p/.smelt/state.db "SELECT landing_path FROM landed_files WHERE source = 'a' AND orig_path LIKE '%a2.csv.gz' ORDER BY id LIMIT 1")
"$SMELT" -C p ingest a --reprocess "$landed" --format csv > rep.out 2> rep.err
check_eq "reprocess from the landing zone: exits 0" 0 "$?"
check_eq "reprocess from the landing zone: its 2 good rows again, its bad line quarantined again" "$((n_before + 5)),2" \
    "$(q p "SELECT (SELECT count(*) FROM bronze.a), (SELECT count(*) FROM quarantine.a)")"
check_eq "reprocess from the landing zone: the original path is kept in state.db" "1" \
    "$(sqlite3 p/.smelt/state.db "SELECT count(DISTINCT orig_path) FROM landed_files WHERE source = 'a' AND orig_path LIKE '%a2.csv.gz'")"
"$SMELT" -C p ingest a --reprocess p/in/b/b1.csv > /dev/null 2> rep.err
check_eq "reprocess of a file of another source: exits 1" 1 "$?"
check_contains "reprocess of a file of another source: says where it must be" "is not in the source's folder" "$(cat rep.err)"
"$SMELT" -C p ingest a --reprocess p/in/a/none.csv > /dev/null 2> rep.err
check_eq "reprocess of a missing file: exits 1" 1 "$?"
"$SMELT" -C p ingest a b --reprocess p/in/a/a1.csv > /dev/null 2> rep.err
check_eq "reprocess with two sources: a usage error" 2 "$?"
"$SMELT" -C p run --format csv > /dev/null 2>&1
check_eq "reprocess: a model deduplicating by key sees each id once" \
    "$(d "SELECT count(DISTINCT id) FROM read_csv(['p/in/a/a1.csv', 'p/in/a/a2.csv.gz'], columns={'id': 'INTEGER', 'v': 'VARCHAR'}, header=true, auto_detect=false, ignore_errors=true)")" \
    "$(q p 'SELECT count(*) FROM silver.a')"

# --- trace --------------------------------------------------------------------------
# id 4 is on line 2 of a2.csv.gz; it was landed twice (the second time from the landing zone)
# trace_rows FILE KEY...: the given keys of every row of a JSON trace, "|"-joined, ";" between rows
trace_rows() {
    python3 - "$@" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
print(";".join("|".join(str(r[k]).split("/")[-1] if k == "_source_file" else str(r[k]) for k in sys.argv[2:]) for r in rows))
PY
}
"$SMELT" -C p trace bronze.a "id = 4" --format json > tr.json 2> tr.err
check_eq "trace bronze: exits 0" 0 "$?"
check_eq "trace bronze: one row per landing of the file, the row's values, line 2" \
    "bronze.a|id=4, v=four|a2.csv.gz|2;bronze.a|id=4, v=four|a2.csv.gz|2" \
    "$(trace_rows tr.json table row _source_file _source_line)"
check_eq "trace bronze: the sha256 of the landed file, from state.db" \
    "$(sha256sum < p/in/a/a2.csv.gz | cut -d' ' -f1);$(sha256sum < p/in/a/a2.csv.gz | cut -d' ' -f1)" \
    "$(trace_rows tr.json sha256)"
check_eq "trace bronze: the received times and batches are those in state.db" \
    "$(sqlite3 p/.smelt/state.db "SELECT received_at || '|' || batch_id FROM landed_files WHERE orig_path LIKE '%a2.csv.gz' ORDER BY 1" | paste -sd';')" \
    "$(trace_rows tr.json received_at _batch_id | tr ';' '\n' | sort | paste -sd';')"
check_eq "trace bronze: the second landing names the first as reprocess_of (state.db's order), the first none" \
    "None;$(sqlite3 p/.smelt/state.db "SELECT substr(landing_path, length(landing_path) - 30) FROM landed_files WHERE orig_path LIKE '%a2.csv.gz' ORDER BY id LIMIT 1")" \
    "$(python3 -c 'import json; rows = json.load(open("tr.json")); print(";".join(str(r["reprocess_of"] and r["reprocess_of"][-31:]) for r in sorted(rows, key=lambda r: r["received_at"])))')"
check_eq "trace bronze: _ingested_at is bronze's" \
    "$(q p "SELECT string_agg(CAST(_ingested_at AS VARCHAR), ';' ORDER BY _ingested_at) FROM bronze.a WHERE id = 4")" \
    "$(trace_rows tr.json _ingested_at | tr ';' '\n' | sort | paste -sd';')"
"$SMELT" -C p trace silver.a "id = 2" --format json > tr.json 2> tr.err
check_eq "trace silver: exits 0" 0 "$?"
check_eq "trace silver: back to bronze.a by unique_key id, line 3 of a1.csv (twice: it was reprocessed)" \
    "bronze.a|id=2|3|a1.csv;bronze.a|id=2|3|a1.csv" \
    "$(python3 -c 'import json; print(";".join("|".join([r["table"], r["row"], str(r["_source_line"]), r["_source_file"].split("/")[-1]]) for r in json.load(open("tr.json"))))')"
check_contains "trace silver: says how it got there" "bronze.a reached through silver.a (unique_key id)" "$(cat tr.err)"
"$SMELT" -C p trace bronze.a "id = 999" > /dev/null 2> tr.err
check_eq "trace with no matching row: exits 1" 1 "$?"
check_contains "trace with no matching row: says so" "no row of bronze.a matches id = 999" "$(cat tr.err)"
"$SMELT" -C p trace bronze.a "nocol = 1" > /dev/null 2> tr.err
check_eq "trace with a bad condition: exits 1 with DuckDB's error" "1" "$?"
"$SMELT" -C p trace bronze.a > /dev/null 2>&1
check_eq "trace without a condition: usage error" 2 "$?"
"$SMELT" -C p trace quarantine.a "raw = 'x,bad'" --format json > tr.json 2> tr.err
check_eq "trace quarantine: the rejected line and its landing, twice (the file was landed again)" \
    "quarantine.a|x,bad|a2.csv.gz|3;quarantine.a|x,bad|a2.csv.gz|3" \
    "$(trace_rows tr.json table row _source_file _source_line)"
# a model without unique_key cannot be traced, and says why
echo "SELECT id, count(*) AS n FROM bronze.a GROUP BY id" > p/models/silver/counts.sql
"$SMELT" -C p run --format csv > /dev/null 2>&1
"$SMELT" -C p trace silver.counts "id = 1" > /dev/null 2> tr.err
check_eq "trace of a model without unique_key: exits 1" 1 "$?"
check_contains "trace of a model without unique_key: says it cannot be traced and why" \
    "silver.counts cannot be traced: its model has no unique_key" "$(cat tr.err)"
echo "SELECT id * 10 AS k, v FROM silver.a" > p/models/silver/computed.sql
printf 'unique_key: k\n' > p/models/silver/computed.yml
"$SMELT" -C p run --format csv > /dev/null 2>&1
"$SMELT" -C p trace silver.computed "k = 10" > /dev/null 2> tr.err
check_eq "trace of a computed key: exits 1" 1 "$?"
check_contains "trace of a computed key: names the key" "silver.computed cannot be traced" "$(cat tr.err)"
check_contains "trace of a computed key: names the key" "key 'k'" "$(cat tr.err)"
rm p/models/silver/counts.sql p/models/silver/computed.sql p/models/silver/computed.yml

# --- --infer ----------------------------------------------------------------------------
mkdir -p i/sources i/in/c i/in/j i/in/q i/in/z
cd i
echo "name: i" > smelt.yml
cat > sources/c.yml <<'EOF'
# orders from the till
kind: files
path: in/c   # the till drops them here
format: csv
options: {header: true, timestamp_format: "%Y-%m-%d %H:%M:%S"}
description: till export
# end of file
EOF
printf 'order id,amount,ts,flag,note\n1,2.50,2026-01-02 10:00:00,true,a\n2,3.25,2026-01-03 11:30:00,false,b\n' > in/c/c1.csv
printf 'order id,amount,ts,flag,note\n3,10,2026-01-04 09:00:00,true,\n' | gzip -c > in/c/c2.csv.gz
printf 'kind: files\npath: in/j\nformat: ndjson\n' > sources/j.yml
printf '{"id": 1, "name": "a", "tags": [1, 2], "obj": {"x": 1}}\n{"id": 2, "name": "b", "price": 2.5}\n' > in/j/j1.ndjson
printf 'kind: files\npath: in/q\nformat: parquet\n' > sources/q.yml
cd ..
duck "COPY (SELECT 1::BIGINT AS id, 'x' AS s, DATE '2026-01-01' AS d, 1.5::DOUBLE AS f) TO 'i/in/q/q.parquet'" > /dev/null
printf 'kind: files\npath: in/z\nformat: csv\ncolumns: {a: INTEGER}\n' > i/sources/z.yml
printf 'a,b\n1,2\n' > i/in/z/z.csv

"$SMELT" -C i validate > /dev/null 2> val.err
check_eq "a CSV source without columns: validate exits 2" 2 "$?"
check_contains "a CSV source without columns: the error suggests smelt ingest --infer" \
    "sources/c.yml:2: missing required key 'columns' in source (csv sources need their columns declared, in file order); 'smelt ingest --infer c' writes them from the files" \
    "$(cat val.err)"
"$SMELT" -C i run > /dev/null 2> run.err
check_eq "a CSV source without columns: run exits 2 before any work" "2:no lake" "$?:$([ -d i/lake ] && echo lake || echo no lake)"
cp i/sources/c.yml c.before
"$SMELT" -C i ingest --infer c --format csv > inf.out 2> inf.err
check_eq "infer csv: exits 0" 0 "$?"
want=$(d "SELECT string_agg(column_name || ':' || column_type, '|') FROM (DESCRIBE SELECT * FROM read_csv(['i/in/c/c1.csv', 'i/in/c/c2.csv.gz'], union_by_name=true, sample_size=-1, timestampformat='%Y-%m-%d %H:%M:%S'))")
check_eq "infer csv: prints the columns DuckDB's sniffer finds in both files" "$want" \
    "$(tail -n +2 inf.out | tr -d '"' | tr ',' ':' | paste -sd'|')"
check_eq "infer csv: the file is the old text with a columns block appended" \
    "$(cat c.before; printf 'columns:\n'; echo "$want" | tr '|' '\n' | sed 's/^/  /; s/:/: /')" \
    "$(cat i/sources/c.yml)"
check_eq "infer csv: the project validates now" 0 "$("$SMELT" -C i validate > /dev/null 2>&1; echo $?)"
"$SMELT" -C i ingest --infer c > /dev/null 2> inf.err
check_eq "infer csv again: refused without --force (exit 2)" 2 "$?"
check_contains "infer csv again: says --force replaces them" "already declares 5 columns: pass --force" "$(cat inf.err)"
# --force replaces the block in place, keeping what is around it
sed -i 's/^  amount: .*/  amount: VARCHAR  # hand-edited/' i/sources/c.yml
printf 'schema_drift: fail\n' >> i/sources/c.yml
"$SMELT" -C i ingest --infer c --force > /dev/null 2> inf.err
check_eq "infer --force: exits 0" 0 "$?"
check_eq "infer --force: the block is replaced where it was, the key after it kept" \
    "$(cat c.before; printf 'columns:\n'; echo "$want" | tr '|' '\n' | sed 's/^/  /; s/:/: /'; echo 'schema_drift: fail')" \
    "$(cat i/sources/c.yml)"
"$SMELT" -C i ingest c --format csv > /dev/null 2> ing.err
check_eq "infer csv: the inferred contract loads the files" "3,15.75" "$(q i 'SELECT count(*), sum(amount) FROM bronze.c')"
"$SMELT" -C i ingest --infer j --format json > inf.json 2> inf.err
check_eq "infer ndjson: exits 0" 0 "$?"
check_eq "infer ndjson: keys of every line, nested values as text" "id:BIGINT|name:VARCHAR|tags:VARCHAR|obj:VARCHAR|price:DOUBLE" \
    "$(python3 -c 'import json; print("|".join(c["name"]+":"+c["type"] for c in json.load(open("inf.json"))["columns"]))')"
"$SMELT" -C i ingest j --format csv > /dev/null 2>&1
check_eq "infer ndjson: nested values load as their JSON text" '[1,2]|{"x":1}' \
    "$(q i "SELECT tags || '|' || obj FROM bronze.j WHERE id = 1" | sed 's/^"//; s/"$//; s/""/"/g')"
"$SMELT" -C i ingest --infer q --format csv > inf.out 2> inf.err
check_eq "infer parquet: the file's own types" "id:BIGINT|s:VARCHAR|d:DATE|f:DOUBLE" \
    "$(tail -n +2 inf.out | tr -d '"' | tr ',' ':' | paste -sd'|')"
"$SMELT" -C i ingest --infer z --force --format csv > /dev/null 2> inf.err
check_eq "infer --force over a flow-style block: replaced by a block" "$(printf 'kind: files\npath: in/z\nformat: csv\ncolumns:\n  a: BIGINT\n  b: BIGINT')" \
    "$(cat i/sources/z.yml)"
"$SMELT" -C i ingest --infer nope > /dev/null 2> inf.err
check_eq "infer of an unknown source: exit 2" 2 "$?"
"$SMELT" -C i ingest --infer c j > /dev/null 2> inf.err
check_eq "infer of two sources: a usage error" 2 "$?"
# dates written month first: the format the sniffer found is written into
# the source's options, or the DATE column would quarantine every row
mkdir -p i/in/us
printf 'kind: files\npath: in/us\nformat: csv\n' > i/sources/us.yml
printf 'id,d,note\n1,03/21/2026,a\n2,12/01/2026,b\n' > i/in/us/us1.csv
printf 'id,d,note\n3,01/31/2027,c\n' > i/in/us/us2.csv
"$SMELT" -C i ingest --infer us --format table > inf.out 2> inf.err
check_eq "infer US dates: exits 0, says the format" "0,1" "$?,$(grep -c "dates are written %m/%d/%Y" inf.out)"
check_eq "infer US dates: the format in options, the column a DATE" \
    "$(printf 'kind: files\npath: in/us\nformat: csv\noptions:\n  date_format: "%%m/%%d/%%Y"\ncolumns:\n  id: BIGINT\n  d: DATE\n  note: VARCHAR')" \
    "$(cat i/sources/us.yml)"
"$SMELT" -C i ingest us --format csv > /dev/null 2> ing.err
check_eq "infer US dates: the contract loads every row with its date, nothing quarantined" \
    "1:2026-03-21|2:2026-12-01|3:2027-01-31,0" \
    "$(q i "SELECT string_agg(id || ':' || d, '|' ORDER BY id) FROM bronze.us"),$(q i 'SELECT count(*) FROM quarantine.us')"
mkdir -p i/in/empty && printf 'kind: files\npath: in/empty\nformat: csv\n' > i/sources/e.yml
"$SMELT" -C i ingest --infer e > /dev/null 2> inf.err
check_eq "infer with no files: exits 1" 1 "$?"
check_contains "infer with no files: says there is nothing to read" "no files matching" "$(cat inf.err)"
check_eq "infer with no files: the source file is untouched" "$(printf 'kind: files\npath: in/empty\nformat: csv')" "$(cat i/sources/e.yml)"

# --- one big file: read on every thread, lines still right -----------------------------------
# (a load of fewer files than threads that DuckDB can split is staged, not
# written by jobs: the same rows and lines must come out either way)
mkdir -p b/sources b/in/big b/in/mixed
echo "name: b" > b/smelt.yml
printf 'defaults:\n  threads: 2\n' >> b/smelt.yml
printf 'kind: files\npath: in/big\nformat: csv\ncolumns:\n  id: BIGINT\n  v: VARCHAR\n  amount: DECIMAL(10,2)\n' > b/sources/big.yml
printf 'kind: files\npath: in/mixed\nformat: csv\ncolumns:\n  id: BIGINT\n  v: VARCHAR\n' > b/sources/mixed.yml
mkdir -p bd/sources bd/in/big
printf 'name: bd\ndefaults:\n  threads: 2\n  memory_limit: 8MB\n' > bd/smelt.yml
cp b/sources/big.yml bd/sources/
python3 - <<'PY'
import random
def big(path, n, seed):
    random.seed(seed)
    with open(path, "w") as f:
        f.write("id,v,amount\n")
        for i in range(1, n + 1):
            r = random.random()
            if r < 0.0005:
                f.write("\n")                       # a blank line
            if r > 0.9995:
                f.write(f"x{i},bad,1.00\n")          # a line that does not cast
            elif 0.5 < r < 0.5004:
                f.write(f"{i},short\n")              # a line with a column missing
            f.write(f"{i},v{i},{i % 1000}.25\n")
big("b/in/big/big.csv", 150000, 3)
big("bd/in/big/big.csv", 1000000, 4)  # 21 MB
with open("b/in/mixed/mixed.csv", "wb") as f:   # CRLF lines, the last one LF only
    f.write(b"id,v\r\n" + b"".join(b"%d,w%d\r\n" % (i, i) for i in range(1, 120000)) + b"120000,w120000\n")
PY
"$SMELT" -C b ingest --format csv > big.out 2> big.err
check_eq "big file: exits 0" 0 "$?"
want_big() { # CSV: rows, sum of ids, sum of their lines, bad lines, sum of their numbers
    python3 - "$1" <<'PY'
import re, sys
good, bad = [], []
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    if n == 1 or not line:
        continue
    if re.fullmatch(r"\d+,v\d+,\d+\.25", line):
        good.append((int(line.split(",")[0]), n))
    else:
        bad.append(n)
print(len(good), sum(i for i, _ in good), sum(n for _, n in good), len(bad), sum(bad), sep=",")
PY
}
got_big="SELECT (SELECT count(*) FROM bronze.big), (SELECT sum(id) FROM bronze.big), (SELECT sum(_source_line) FROM bronze.big), (SELECT count(DISTINCT line) FROM quarantine.big), (SELECT sum(DISTINCT line) FROM quarantine.big)"
check_eq "big file: every good row, each on its line; the bad lines quarantined on theirs" \
    "$(want_big b/in/big/big.csv)" "$(q b "$got_big")"
check_eq "big file with mixed line endings: every row, on its line" "120000,7200060000,7200180000" \
    "$(q b "SELECT count(*), sum(id), sum(_source_line) FROM bronze.mixed")"
check_contains "big file with mixed line endings: read with strict mode off, and said so" "not strict CSV" "$(cat big.err)"

# A memory_limit DuckDB cannot read the file under stops the load; the
# file is not the culprit, so nothing is quarantined, and the rerun after
# the limit is raised loads it. A file of more than a quarter of the limit
# is staged in a Parquet file rather than a temporary table (which would
# spill): the same rows on the same lines.
"$SMELT" -C bd ingest --format csv > bd.out 2> bd.err
check_eq "memory_limit too small to read the file: exits 1" 1 "$?"
check_contains "memory_limit too small: says which limit to raise" "raise defaults.memory_limit" "$(cat bd.out bd.err)"
n=$(q bd "SELECT count(*) FROM quarantine.big")
check_eq "memory_limit too small: the file is not quarantined" "0" "${n:-0}"
sed -i 's/memory_limit: 8MB/memory_limit: 64MB/' bd/smelt.yml
"$SMELT" -v -C bd ingest --format csv > bd.out 2> bd.err
check_eq "memory_limit raised: the rerun exits 0" 0 "$?"
check_contains "a file of over a quarter of memory_limit is staged in a Parquet file" "stage.parquet" "$(cat bd.err)"
check_eq "staged in a Parquet file: every good row, each on its line; the bad lines quarantined on theirs" \
    "$(want_big bd/in/big/big.csv)" "$(q bd "$got_big")"
check_eq "staged in a Parquet file: the temporary folder is gone" "" "$(ls bd/.smelt/tmp 2> /dev/null)"
# The same file as one .gz: DuckDB reads a .gz on one thread, so its plain
# text (past a quarter of memory_limit, not kept in memory) is kept on disk
# while the load runs and read from there on both.
mkdir -p bd/in/gz && gzip -1 -c bd/in/big/big.csv > bd/in/gz/big.csv.gz
sed -e 's#^path: in/big#path: in/gz\nglob: "*.csv.gz"#' b/sources/big.yml > bd/sources/bigz.yml
"$SMELT" -v -C bd ingest bigz --format csv > bdz.out 2> bdz.err
check_eq "a lone .gz past the memory budget: exits 0" 0 "$?"
check_contains "a lone .gz past the memory budget: read from a plain copy on disk" \
    "big.csv.gz': its plain text kept on disk" "$(cat bdz.err)"
check_contains "a lone .gz past the memory budget: staged in a Parquet file" "stage.parquet" "$(cat bdz.err)"
check_eq "a lone .gz past the memory budget: every good row, each on its line; the bad lines quarantined on theirs" \
    "$(want_big bd/in/big/big.csv)" "$(q bd "$(echo "$got_big" | sed 's/\.big\b/.bigz/g')")"
check_eq "a lone .gz past the memory budget: the plain copy is gone" "" "$(ls bd/.smelt/tmp 2> /dev/null)"

# --- no progress bar when nothing is a terminal ---------------------------------------------
"$SMELT" -C p ingest a --format table > /dev/null 2> prog.err
check_eq "no progress lines on stderr when it is not a terminal" "" "$(tr -d '\n' < prog.err)"

done_testing
