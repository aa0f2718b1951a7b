#!/bin/sh
# Files sources in every shape: the same rows plain, gzip, zstd, bzip2 and xz;
# zip, tar, tar.gz and tgz archives; folders matched by '**'; TSV and the CSV
# options; _source_line against the landed files; NDJSON with bad lines; unsafe
# and corrupt archives; idempotent reruns. Expected figures come from python3
# and from DuckDB (build/duckq) over the raw files, never from smelt.
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1

q() { smelt_q "$1" "$2" 2> q.err | tail -n +2; }
d() { duck "$@" 2> d.err | tail -n +2; }
run_smelt() {
    "$SMELT" -C "$1" run --format csv > run.out 2> run.err
    rc=$?
}
check_match() {
    if printf '%s\n' "$3" | grep -Eiq -- "$2"; then ok "$1"; else not_ok "$1" "expected to match: $2" "actual: $3"; fi
}

# --- 1. one data set, every compression and archive, nested folders ------------
mkdir -p p1/sources p1/in/orders p1/ref
cd p1
echo "name: p1" > smelt.yml
cat > sources/orders.yml <<'EOF'
kind: files
path: in/orders/**
format: csv
options: {timestamp_format: "%Y-%m-%d %H:%M:%S"}
columns:
  id: BIGINT
  ts: TIMESTAMP
  amount: DECIMAL(10,2)
  note: VARCHAR
EOF
# 12 parts of 50 rows each; ref/ keeps the plain text of every part
python3 - <<'EOF'
import random
random.seed(7)
n = 0
for part in range(12):
    with open(f"ref/part{part:02d}.csv", "w") as f:
        f.write("id,ts,amount,note\n")
        for i in range(50):
            n += 1
            f.write(f"{n},2026-01-{1 + part:02d} {i % 24:02d}:{i:02d}:00,{random.randint(1, 99999) / 100:.2f},\"p{part}, row {i}\"\n")
EOF
mkdir -p in/orders/2026/01/a in/orders/2026/01/b/deeper in/orders/flat stage
cp ref/part00.csv in/orders/flat/p00.csv
gzip -c ref/part01.csv > in/orders/2026/01/a/p01.csv.gz
zstd -q -c ref/part02.csv > in/orders/2026/01/a/p02.csv.zst
bzip2 -c ref/part03.csv > in/orders/2026/01/b/p03.csv.bz2
xz -c ref/part04.csv > in/orders/2026/01/b/deeper/p04.csv.xz
cp ref/part05.csv stage/m05.csv
cp ref/part06.csv stage/m06.csv
gzip -c ref/part07.csv > stage/m07.csv.gz
(cd stage && zip -q ../in/orders/2026/01/daily.zip m05.csv m06.csv m07.csv.gz)
mkdir -p stage/t/sub
cp ref/part08.csv stage/t/sub/m08.csv
cp ref/part09.csv stage/t/m09.csv
(cd stage/t && tar cf ../../in/orders/flat/week.tar sub m09.csv)
cp ref/part10.csv stage/m10.csv
(cd stage && tar czf ../in/orders/2026/01/b/m10.tar.gz m10.csv)
cp ref/part11.csv stage/m11.csv
(cd stage && tar czf ../in/orders/2026/01/m11.tgz m11.csv)
# not matched by the pattern: a hidden folder and a hidden file
mkdir -p in/orders/.hidden && cp ref/part00.csv in/orders/.hidden/x.csv && cp ref/part00.csv in/orders/.x.csv
cd ..
run_smelt p1
check_eq "formats: smelt run exits 0" 0 "$rc"
check_eq "formats: nothing on stderr" "" "$(cat run.err)"
want=$(d "SELECT count(*), sum(id), sum(CAST(amount AS DECIMAL(10,2))), min(ts), max(ts) FROM read_csv('p1/ref/*.csv', header=true, columns={'id':'BIGINT','ts':'TIMESTAMP','amount':'DECIMAL(10,2)','note':'VARCHAR'})")
check_eq "formats: every row of 12 parts in 9 files (plain, gz, zst, bz2, xz, zip, tar, tar.gz, tgz)" "$want" \
    "$(q p1 'SELECT count(*), sum(id), sum(amount), min(ts), max(ts) FROM bronze.orders')"
check_eq "formats: 600 rows expected (sanity of the DuckDB figure)" 600 "$(echo "$want" | cut -d, -f1)"
check_eq "formats: quoted values with commas kept" 600 "$(q p1 "SELECT count(*) FROM bronze.orders WHERE note LIKE 'p%, row %'")"
check_eq "formats: nothing quarantined" 0 "$(q p1 'SELECT count(*) FROM quarantine.orders')"
check_eq "formats: 9 files landed (hidden ones left alone)" 9 "$(find p1/lake/landing/orders -type f ! -name _manifest.json | wc -l | tr -d ' ')"
check_eq "formats: each part comes from its own file or member" \
    "daily.zip!m05.csv|daily.zip!m06.csv|daily.zip!m07.csv.gz|m10.tar.gz!m10.csv|m11.tgz!m11.csv|p00.csv|p01.csv.gz|p02.csv.zst|p03.csv.bz2|p04.csv.xz|week.tar!m09.csv|week.tar!sub/m08.csv" \
    "$(q p1 "SELECT string_agg(f, '|' ORDER BY f) FROM (SELECT DISTINCT split_part(_source_file, '/', -1) AS f FROM bronze.orders WHERE _source_file NOT LIKE '%week.tar%' UNION ALL SELECT DISTINCT regexp_extract(_source_file, 'week.tar!.*') FROM bronze.orders WHERE _source_file LIKE '%week.tar%')")"
check_eq "formats: _source_file is under the batch in the landing zone" 600 \
    "$(q p1 "SELECT count(*) FROM bronze.orders WHERE _source_file LIKE 'landing/orders/____/__/__/' || _batch_id || '/%'")"
check_eq "formats: the landed archive is byte for byte the one received" \
    "$(sha256sum < p1/in/orders/2026/01/daily.zip)" "$(sha256sum < "$(find p1/lake/landing -name daily.zip)")"
check_eq "formats: the landed bz2 is byte for byte the one received" \
    "$(sha256sum < p1/in/orders/2026/01/b/p03.csv.bz2)" "$(sha256sum < "$(find p1/lake/landing -name p03.csv.bz2)")"
check_eq "formats: no temporary file left" 0 "$(find p1/.smelt/tmp -type f 2> /dev/null | wc -l | tr -d ' ')"
# every part has 50 rows on lines 2..51 of its (decompressed) file, id order
check_eq "formats: _source_line is the line in the decompressed file (2..51 in each part)" "12,2,51,600" \
    "$(q p1 "SELECT count(DISTINCT _source_file), min(_source_line), max(_source_line), count(*) FILTER (WHERE _source_line - 1 = (id - 1) % 50 + 1) FROM bronze.orders")"

# reruns and re-sends land nothing twice
run_smelt p1
check_eq "idempotent: a rerun exits 0" 0 "$rc"
check_eq "idempotent: a rerun adds no row" 600 "$(q p1 'SELECT count(*) FROM bronze.orders')"
cp p1/in/orders/2026/01/daily.zip p1/in/orders/flat/daily-copy.zip
touch p1/in/orders/2026/01/m11.tgz
run_smelt p1
check_eq "idempotent: the same archive under another name and a touched one land nothing" 600 \
    "$(q p1 'SELECT count(*) FROM bronze.orders')"
check_eq "idempotent: still 9 files in the landing zone" 9 "$(find p1/lake/landing/orders -type f ! -name _manifest.json | wc -l | tr -d ' ')"

# --- 2. _source_line with blank lines, bad lines, CRLF --------------------------
mkdir -p p2/sources p2/in/a p2/in/n p2/in/r
cd p2
echo "name: p2" > smelt.yml
printf 'kind: files\npath: in/a\nglob: "*.csv*"\nformat: csv\ncolumns:\n  id: INTEGER\n  v: VARCHAR\n' > sources/a.yml
printf 'kind: files\npath: in/n\nformat: ndjson\ncolumns:\n  id: INTEGER\n  v: VARCHAR\n  amount: DECIMAL(8,2)\n' > sources/n.yml
# blank lines, a line that does not cast, a short line, CRLF: ids are on known lines
printf 'id,v\n1,a\n\n2,b\nx,bad\n3,c\n\n\n4\n5,e\n6,f\n' > in/a/lines.csv
printf 'id,v\r\n7,g\r\n\r\n8,h\r\nbad,i\r\n9,j\r\n' | gzip -c > in/a/crlf.csv.gz
# NDJSON: good lines around blank, broken, non-object and uncastable ones
cat > in/n/x.ndjson <<'EOF'
{"id": 1, "v": "a", "amount": 1.5}

{"id": 2, "v": "b", "amount": null}
{"id": 3, "v": "c"
   
[1, 2]
{"id": "three", "v": "d"}
{"id": 4, "v": "e", "amount": 12.25}
"just a string"
{"id": 5, "v": null}
EOF
printf '{"id": 6, "v": "f"}\n{"id": 7, "v": "g"}\n' > in/n/y.ndjson
# read from a plain copy in memory: a gzip file (one line that does not cast) and a zip member
printf '{"id": 8, "v": "h"}\n{"id": "nine"}\n{"id": 10, "v": "j"}\n' | gzip -c > in/n/z.ndjson.gz
mkdir zip && printf '{"id": 11, "v": "k"}\n' > zip/w.ndjson && (cd zip && zip -q ../in/n/w.zip w.ndjson) && rm -r zip
# JSON documents: records that do not fit (a value that does not cast, not an object) among good
# ones, in a plain and a gzip file; one document cut short
printf 'kind: files\npath: in/r\nformat: json\ncolumns:\n  id: INTEGER\n  v: VARCHAR\n' > sources/r.yml
printf '[{"id": 1, "v": "a"}, {"id": "two", "v": "b"},\n 3, {"id": 4}]' > in/r/x.json
printf '[{"id": 5, "v": "e"}, {"id": "six"}]' | gzip -c > in/r/y.json.gz
printf '[{"id": 7, "v": "g"}, {"id": 8' > in/r/z.json
cd ..
run_smelt p2
check_eq "lines: smelt run exits 0" 0 "$rc"
# expected lines computed from the files by python: the line holding each id
python3 - > want_lines.txt <<'EOF'
import gzip, re
rows = []
for name, data in (("lines.csv", open("p2/in/a/lines.csv", "rb").read()),
                   ("crlf.csv.gz", gzip.open("p2/in/a/crlf.csv.gz").read())):
    for n, line in enumerate(data.decode().split("\n"), 1):
        m = re.match(r"^(\d+),", line)
        if m:
            rows.append((int(m.group(1)), n))
print("|".join(f"{i}:{n}" for i, n in sorted(rows)))
EOF
check_eq "lines: each CSV row's _source_line is the line holding it (blank, bad, CRLF lines counted)" \
    "$(cat want_lines.txt)" "$(q p2 "SELECT string_agg(id || ':' || _source_line, '|' ORDER BY id) FROM bronze.a")"
check_eq "lines: the bad CSV lines are quarantined on their lines" "crlf.csv.gz:5|lines.csv:5|lines.csv:9" \
    "$(q p2 "SELECT string_agg(f, '|' ORDER BY f) FROM (SELECT split_part(_source_file, '/', -1) || ':' || line AS f FROM quarantine.a)")"
check_eq "ndjson: the good lines load, with their lines" "1:1|2:3|4:8|5:10|6:1|7:2|8:1|10:3|11:1" \
    "$(q p2 "SELECT string_agg(id || ':' || _source_line, '|' ORDER BY id) FROM bronze.n")"
check_eq "ndjson: typed values of the good lines" "1.50|NULL|12.25" \
    "$(q p2 "SELECT string_agg(coalesce(CAST(amount AS VARCHAR), 'NULL'), '|' ORDER BY id) FROM bronze.n WHERE id <= 4")"
check_eq "ndjson: the bad lines are quarantined one by one" \
    "4:INVALID JSON|6:NOT AN OBJECT|7:CAST|9:NOT AN OBJECT" \
    "$(q p2 "SELECT string_agg(line || ':' || error_type, '|' ORDER BY line) FROM quarantine.n WHERE _source_file LIKE '%x.ndjson'")"
check_eq "ndjson: the bad line of the gzip file is quarantined on its line" "z.ndjson.gz:2:CAST" \
    "$(q p2 "SELECT split_part(_source_file, '/', -1) || ':' || line || ':' || error_type FROM quarantine.n WHERE _source_file NOT LIKE '%x.ndjson'")"
check_eq "ndjson: raw text and column of the line that does not cast" '{"id": "three", "v": "d"}|id' \
    "$(q p2 "SELECT raw || '|' || column_name FROM quarantine.n WHERE line = 7" | sed 's/^"//; s/"$//; s/""/"/g')"
check_eq "ndjson: the quarantined lines name their file" 4 \
    "$(q p2 "SELECT count(*) FROM quarantine.n WHERE _source_file LIKE 'landing/n/%/x.ndjson'")"
check_eq "ndjson: rows + quarantined lines = non-blank lines of the files" \
    "$( (cat p2/in/n/*.ndjson; gzip -dc p2/in/n/z.ndjson.gz; unzip -p p2/in/n/w.zip) | grep -c '[^[:space:]]')" \
    "$(q p2 'SELECT (SELECT count(*) FROM bronze.n) + (SELECT count(*) FROM quarantine.n)')"
check_eq "ndjson: the file with only good lines has no quarantine row" 0 \
    "$(q p2 "SELECT count(*) FROM quarantine.n WHERE _source_file LIKE '%y.ndjson'")"
check_eq "json: the records that fit load, with no line" "1:a:-|4:-:-|5:e:-" \
    "$(q p2 "SELECT string_agg(id || ':' || coalesce(v, '-') || ':' || coalesce(CAST(_source_line AS VARCHAR), '-'), '|' ORDER BY id) FROM bronze.r")"
check_eq "json: the records that do not fit are quarantined one by one, by their number in the array" \
    "x.json:2:CAST:id|x.json:3:NOT AN OBJECT:-|y.json.gz:2:CAST:id|z.json:-:UNREADABLE FILE:-" \
    "$(q p2 "SELECT string_agg(split_part(_source_file, '/', -1) || ':' || coalesce(CAST(line AS VARCHAR), '-') || ':' || error_type || ':' || coalesce(column_name, '-'), '|' ORDER BY _source_file, line) FROM quarantine.r")"

# --- 3. TSV and the CSV options ---------------------------------------------------
mkdir -p p3/sources p3/in/t p3/in/s p3/in/h
cd p3
echo "name: p3" > smelt.yml
cat > sources/t.yml <<'EOF'
kind: files
path: in/t
format: tsv
options:
  null_strings: ["", NA, "-"]
  date_format: "%d/%m/%Y"
columns:
  id: INTEGER
  day: DATE
  city: VARCHAR
EOF
printf 'id\tday\tcity\n1\t03/01/2026\tSan Jose, CA\n2\tNA\t-\n3\t31/12/2025\t\n' > in/t/a.tsv
cat > sources/s.yml <<'EOF'
kind: files
path: in/s
format: csv
options: {delimiter: ";", quote: "'", escape: "\\", header: true, timestamp_format: "%d.%m.%Y %H:%M"}
columns:
  id: INTEGER
  ts: TIMESTAMP
  text: VARCHAR
EOF
printf "id;ts;text\n1;02.01.2026 10:30;'semi; colon'\n2;03.01.2026 23:59;'it\\\\'s'\n" > in/s/a.csv
cat > sources/h.yml <<'EOF'
kind: files
path: in/h
format: csv
options: {header: false}
columns:
  id: INTEGER
  name: VARCHAR
EOF
printf '1,one\n2,two\n3,three\n' > in/h/a.csv
cd ..
run_smelt p3
check_eq "options: smelt run exits 0" 0 "$rc"
check_eq "tsv: values, null_strings and date_format" '"1|2026-01-03|San Jose, CA;2|NULL|NULL;3|2025-12-31|NULL"' \
    "$(q p3 "SELECT string_agg(concat_ws('|', id, coalesce(CAST(day AS VARCHAR), 'NULL'), coalesce(city, 'NULL')), ';' ORDER BY id) FROM bronze.t")"
check_eq "tsv: _source_line counts the header" "2|3|4" "$(q p3 "SELECT string_agg(CAST(_source_line AS VARCHAR), '|' ORDER BY id) FROM bronze.t")"
check_eq "csv options: delimiter, quote, escape, timestamp_format" "1|2026-01-02 10:30:00|semi; colon;2|2026-01-03 23:59:00|it's" \
    "$(q p3 "SELECT string_agg(concat_ws('|', id, ts, text), ';' ORDER BY id) FROM bronze.s")"
check_eq "csv options: header false reads the first line as data, lines from 1" "1:1|2:2|3:3" \
    "$(q p3 "SELECT string_agg(id || ':' || _source_line, '|' ORDER BY id) FROM bronze.h")"

# --- 4. configuration errors of the new keys ----------------------------------------
mkdir -p p4/sources
echo "name: p4" > p4/smelt.yml
cfg() { printf '%s\n' "$@" > p4/sources/s.yml; "$SMELT" -C p4 validate > /dev/null 2> cfg.err; echo "$?:$(cat cfg.err)"; }
check_contains "config: a misspelt null_strings suggests it" "sources/s.yml:4: unknown key 'nul_strings' in options (did you mean 'null_strings'?)" \
    "$(cfg 'kind: files' 'path: in' 'format: csv' 'options: {nul_strings: [NA]}' 'columns: {a: INTEGER}')"
check_contains "config: a delimiter of 5 characters" "sources/s.yml:4: 'delimiter' must be 1 to 4 characters" \
    "$(cfg 'kind: files' 'path: in' 'format: csv' 'options: {delimiter: "abcde"}' 'columns: {a: INTEGER}')"
check_contains "config: a quote of 2 characters" "sources/s.yml:5: 'quote' must be one character" \
    "$(cfg 'kind: files' 'path: in' 'format: csv' 'options:' '  quote: "xy"' 'columns: {a: INTEGER}')"
check_contains "config: null_string and null_strings together" "sources/s.yml:4: both 'null_string' and 'null_strings' are set" \
    "$(cfg 'kind: files' 'path: in' 'format: tsv' 'options: {null_string: NA, null_strings: [x]}' 'columns: {a: INTEGER}')"
check_contains "config: tsv needs columns like csv" "sources/s.yml:1: missing required key 'columns' in source (tsv sources" \
    "$(cfg 'kind: files' 'path: in' 'format: tsv')"
check_contains "config: a glob that is an absolute path" "sources/s.yml:3: 'glob' is a pattern relative to 'path'" \
    "$(cfg 'kind: files' 'path: in' 'glob: /etc/*' 'format: csv' 'columns: {a: INTEGER}')"
check_contains "config: a misspelt format suggests tsv" "invalid value 'tvs' for 'format' (did you mean 'tsv'?)" \
    "$(cfg 'kind: files' 'path: in' 'format: tvs' 'columns: {a: INTEGER}')"
check_eq "config: the valid file passes" "0:" "$(cfg 'kind: files' 'path: in/**' 'glob: "*.tsv"' 'format: tsv' 'options: {null_strings: NA}' 'columns: {a: INTEGER}')"

done_testing
