#!/bin/sh
# Bad input never stops the pipeline and is never lost. Hand-written projects
# with small files whose contents are known exactly: a missing source folder,
# empty and header-only files, a UTF-8 BOM with CRLF, the dbt jaffle shop seeds
# (CRLF), the NYC taxi sample (mixed line endings, empty trailing fields),
# invalid UTF-8 and wrong field counts, a truncated .csv.gz.
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1

# q DIR SQL: smelt's answer without the header line
q() { smelt_q "$1" "$2" 2> q.err | tail -n +2; }
# d SQL...: DuckDB's own answer without the header line
d() { duck "$@" 2> d.err | tail -n +2; }
# check_match NAME ERE TEXT
check_match() {
    if printf '%s\n' "$3" | grep -Eiq -- "$2"; then ok "$1"; else not_ok "$1" "expected to match: $2" "actual: $3"; fi
}
# csv_source FILE FOLDER GLOB OPTIONS COLUMN:TYPE...: write sources/FILE.yml
csv_source() {
    f=$1 path=$2 glob=$3 opts=$4
    shift 4
    {
        echo "kind: files"
        echo "path: $path"
        echo "glob: \"$glob\""
        echo "format: csv"
        [ -n "$opts" ] && echo "options: $opts"
        echo "columns:"
        for c in "$@"; do echo "  ${c%%:*}: ${c#*:}"; done
    } > "sources/$f.yml"
}
# run_smelt DIR: smelt run; status in $rc, stdout in run.out, stderr in run.err
run_smelt() {
    "$SMELT" -C "$1" run --format csv > run.out 2> run.err
    rc=$?
}

# --- 1. a source folder that does not exist ------------------------------------
mkdir -p p1/sources p1/in/ok
cd p1
echo "name: p1" > smelt.yml
csv_source gone in/missing "*.csv" "" id:INTEGER name:VARCHAR
csv_source ok in/ok "*.csv" "" id:INTEGER name:VARCHAR
printf 'id,name\n1,one\n2,two\n' > in/ok/ok.csv
cd ..
run_smelt p1
check_eq "missing folder: smelt run exits 1" 1 "$rc"
err=$(cat run.err)
check_contains "missing folder: the message names the folder" "in/missing" "$err"
check_contains "missing folder: the message names the source file to fix" "sources/gone.yml" "$err"
check_eq "missing folder: the other source still loads (bronze.ok)" "2,3" "$(q p1 'SELECT count(*), sum(id) FROM bronze.ok')"
mkdir -p p1/in/missing
printf 'id,name\n7,seven\n' > p1/in/missing/late.csv
run_smelt p1
check_eq "missing folder: once created, the rerun exits 0" 0 "$rc"
check_eq "missing folder: once created, its file loads" "1,7" "$(q p1 'SELECT count(*), sum(id) FROM bronze.gone')"
check_eq "missing folder: bronze.ok not loaded twice" "2,3" "$(q p1 'SELECT count(*), sum(id) FROM bronze.ok')"

# --- 2. empty, header-only, BOM + CRLF, invalid UTF-8, wrong field counts, .gz ---
mkdir -p p2/sources p2/in/edge p2/in/allempty p2/in/bom p2/in/bomraw p2/in/bad p2/in/gz
cd p2
echo "name: p2" > smelt.yml
csv_source edge in/edge "*.csv" "" id:INTEGER name:VARCHAR
: > in/edge/empty.csv
printf 'id,name\n' > in/edge/header_only.csv
printf 'id,name\n1,one\n2,two\n' > in/edge/good.csv
csv_source allempty in/allempty "*.csv" "" id:INTEGER name:VARCHAR
: > in/allempty/empty.csv
printf 'id,name\r\n' > in/allempty/header_only.csv
# BOM, CRLF; the first column is text so a leaked BOM would show in its values,
# the last column is text so a leaked CR would show in its values
csv_source bom in/bom "*.csv" "" code:VARCHAR n:INTEGER name:VARCHAR
printf '\357\273\277code,n,name\r\nA1,1,alice\r\nB2,2,bob\r\nC3,3,carol\r\n' > in/bom/bom.csv
csv_source bomraw in/bomraw "*.csv" "{header: false}" code:VARCHAR n:INTEGER name:VARCHAR
printf '\357\273\277A1,1,alice\r\nB2,2,bob\r\n' > in/bomraw/bom.csv
# line 1 header; 2 ok; 3 invalid UTF-8 (byte 0xFF); 4 ok; 5 one field short;
# 6 one field too many; 7 ok: 6 data lines, 3 good, 3 bad
csv_source bad in/bad "*.csv" "" id:INTEGER name:VARCHAR amount:"DECIMAL(10,2)"
printf 'id,name,amount\n1,ok1,1.00\n2,b\377d,2.00\n3,ok3,3.00\n4,short\n5,ok5,5.00,extra\n6,ok6,6.00\n' > in/bad/bad.csv
csv_source gz in/gz "*.csv.gz" "" id:INTEGER name:VARCHAR
printf 'id,name\n1,a\n2,b\n3,c\n' | gzip -c > in/gz/good.csv.gz
awk 'BEGIN { print "id,name"; for (i = 1; i <= 3000; i++) printf "%d,name %d %d\n", i, i * 7919 % 1000, i * i }' |
    gzip -c > full.gz
head -c $(($(wc -c < full.gz) / 2)) full.gz > in/gz/trunc.csv.gz
# gzip as other tools write it: two members one after the other (cat a.gz
# b.gz, a blank line in the second), zero bytes after the end; and one
# with a byte of its compressed data flipped
csv_source gz2 in/gz2 "*.csv.gz" "" id:INTEGER name:VARCHAR
mkdir -p in/gz2
{ printf 'id,name\n10,x\n' | gzip -c; printf '11,y\n\n12,z\n' | gzip -c; } > in/gz2/multi.csv.gz
{ printf 'id,name\n20,p\n' | gzip -c; head -c 8 /dev/zero; } > in/gz2/padded.csv.gz
python3 -c "
d = bytearray(open('full.gz', 'rb').read()); d[len(d) // 2] ^= 0x55
open('in/gz2/flipped.csv.gz', 'wb').write(d)"
rm full.gz
cd ..
gzip -t p2/in/gz/trunc.csv.gz 2> /dev/null
check_eq "the test's truncated gzip file is indeed broken (gzip -t fails)" 1 "$([ $? -ne 0 ] && echo 1 || echo 0)"
run_smelt p2
check_eq "bad input: smelt run exits 0" 0 "$rc"
check_eq "bad input: nothing on stderr but warnings" "" "$(grep -v -i 'warn' run.err)"

check_eq "empty/header-only: rows of the good file load" "2,3" "$(q p2 'SELECT count(*), sum(id) FROM bronze.edge')"
check_eq "empty/header-only: no row from the empty or header-only file" 0 \
    "$(q p2 "SELECT count(*) FROM bronze.edge WHERE _source_file NOT LIKE '%/good.csv'")"
check_eq "empty/header-only: nothing in quarantine.edge" 0 "$(q p2 'SELECT count(*) FROM quarantine.edge')"
check_eq "only empty files: bronze.allempty exists with 0 rows" 0 "$(q p2 'SELECT count(*) FROM bronze.allempty')"
check_eq "only empty files: nothing in quarantine.allempty" 0 "$(q p2 'SELECT count(*) FROM quarantine.allempty')"

check_eq "BOM+CRLF: the first column is named 'code'" "code" \
    "$(q p2 'SELECT column_name FROM (DESCRIBE bronze.bom) LIMIT 1')"
check_eq "BOM+CRLF: every row, values exact (no BOM, no CR)" "A1|B2|C3,6,alice|bob|carol" \
    "$(q p2 "SELECT string_agg(code, '|' ORDER BY code), sum(n), string_agg(name, '|' ORDER BY code) FROM bronze.bom")"
check_eq "BOM+CRLF: first value is exactly the 2 bytes 'A1'" "4131" \
    "$(q p2 "SELECT hex(code) FROM bronze.bom WHERE n = 1")"
check_eq "BOM+CRLF: nothing in quarantine.bom" 0 "$(q p2 'SELECT count(*) FROM quarantine.bom')"
check_eq "BOM+CRLF without header: values exact (BOM not in the first value)" "A1|B2,alice|bob" \
    "$(q p2 "SELECT string_agg(code, '|' ORDER BY code), string_agg(name, '|' ORDER BY code) FROM bronze.bomraw")"
check_eq "BOM+CRLF without header: nothing in quarantine.bomraw" 0 "$(q p2 'SELECT count(*) FROM quarantine.bomraw')"

check_eq "bad lines: the good lines are in bronze" "1|3|6" \
    "$(q p2 "SELECT string_agg(CAST(id AS VARCHAR), '|' ORDER BY id) FROM bronze.bad")"
check_eq "bad lines: the bad lines are in quarantine with their line numbers" "3|5|6" \
    "$(q p2 "SELECT string_agg(CAST(line AS VARCHAR), '|' ORDER BY line) FROM quarantine.bad")"
check_eq "bad lines: every quarantined line has error text and its file" 3 \
    "$(q p2 "SELECT count(*) FROM quarantine.bad WHERE length(error) > 0 AND _source_file LIKE '%/bad.csv'")"
# (smelt query --format csv quotes a value that holds a comma)
check_eq "bad lines: raw text of the short line" '"4,short"' "$(q p2 'SELECT raw FROM quarantine.bad WHERE line = 5')"
check_eq "bad lines: raw text of the long line" '"5,ok5,5.00,extra"' "$(q p2 'SELECT raw FROM quarantine.bad WHERE line = 6')"
check_match "bad lines: the invalid UTF-8 line says it is an encoding error" "unicode|utf|encoding" \
    "$(q p2 'SELECT error_type, error FROM quarantine.bad WHERE line = 3')"
check_match "bad lines: raw text of the invalid UTF-8 line is kept" '^"?2,b' "$(q p2 'SELECT raw FROM quarantine.bad WHERE line = 3')"
data_lines=$(($(wc -l < p2/in/bad/bad.csv) - 1))
check_eq "bad lines: bronze + quarantine == data lines in the file ($data_lines)" "$data_lines" \
    "$(q p2 'SELECT (SELECT count(*) FROM bronze.bad) + (SELECT count(*) FROM quarantine.bad)')"

check_eq "truncated gz: the good file loads" "3,6" "$(q p2 'SELECT count(*), sum(id) FROM bronze.gz')"
check_eq "truncated gz: no row of it in bronze" 0 \
    "$(q p2 "SELECT count(*) FROM bronze.gz WHERE _source_file LIKE '%trunc.csv.gz'")"
check_eq "truncated gz: quarantined as one file row" "1,UNREADABLE FILE,1,1" \
    "$(q p2 "SELECT count(*), max(error_type), count(*) FILTER (WHERE line IS NULL), count(*) FILTER (WHERE _source_file LIKE '%/trunc.csv.gz') FROM quarantine.gz")"
check_match "truncated gz: the error says what is wrong" "truncat|gzip|compress|unexpected end" \
    "$(q p2 'SELECT error FROM quarantine.gz')"
check_eq "multi-member and padded gz: every row loads, with its line (12 after a blank line: 5)" \
    "multi.csv.gz:10@2|multi.csv.gz:11@3|multi.csv.gz:12@5|padded.csv.gz:20@2" \
    "$(q p2 "SELECT string_agg(regexp_replace(_source_file, '^.*/', '') || ':' || id || '@' || _source_line, '|' ORDER BY id) FROM bronze.gz2")"
check_eq "a gz with a flipped byte: quarantined whole, as corrupt" "1,1" \
    "$(q p2 "SELECT count(*), count(*) FILTER (WHERE _source_file LIKE '%/flipped.csv.gz' AND error_type = 'UNREADABLE FILE' AND error ILIKE '%corrupt%') FROM quarantine.gz2")"

run_smelt p2
check_eq "bad input: a second run exits 0" 0 "$rc"
check_eq "bad input: a second run loads and quarantines nothing again" "2,3,3,1" \
    "$(q p2 'SELECT (SELECT count(*) FROM bronze.edge), (SELECT count(*) FROM bronze.bad), (SELECT count(*) FROM quarantine.bad), (SELECT count(*) FROM quarantine.gz)')"

# --- 3. the dbt jaffle shop seeds ---------------------------------------------------
J=$TESTDATA/jaffle_shop
mkdir -p p3/sources p3/in/customers p3/in/orders p3/in/payments p3/models/silver p3/models/gold
cp "$J/raw_customers.csv" p3/in/customers/
cp "$J/raw_orders.csv" p3/in/orders/
cp "$J/raw_payments.csv" p3/in/payments/
cd p3
echo "name: jaffle_shop" > smelt.yml
csv_source customers in/customers "*.csv" "" id:INTEGER first_name:VARCHAR last_name:VARCHAR
csv_source orders in/orders "*.csv" "" id:INTEGER user_id:INTEGER order_date:DATE status:VARCHAR
csv_source payments in/payments "*.csv" "" id:INTEGER order_id:INTEGER payment_method:VARCHAR amount:INTEGER
cat > models/silver/payments.sql <<'EOF'
-- silver.payments: amounts in dollars
SELECT id AS payment_id, order_id, payment_method,
       CAST(amount AS DECIMAL(12,2)) / 100 AS amount
FROM bronze.payments
EOF
cat > models/silver/orders.sql <<'EOF'
SELECT id AS order_id, user_id AS customer_id, order_date, status
FROM bronze.orders
EOF
cat > models/gold/revenue_per_customer.sql <<'EOF'
-- gold.revenue_per_customer: payments per customer, in dollars
SELECT c.id AS customer_id, c.first_name, c.last_name,
       count(DISTINCT o.order_id) AS orders,
       CAST(sum(p.amount) AS DECIMAL(18,2)) AS revenue
FROM silver.payments AS p
JOIN silver.orders AS o USING (order_id)
JOIN bronze.customers AS c ON c.id = o.customer_id
GROUP BY c.id, c.first_name, c.last_name
EOF
cd ..
# the seed really has CRLF (else this part tests nothing)
check_eq "jaffle: raw_orders.csv has CRLF line endings" 100 "$(grep -c "$(printf '\r')\$" "$J/raw_orders.csv")"
run_smelt p3
check_eq "jaffle: smelt run exits 0" 0 "$rc"
check_eq "jaffle: bronze counts customers/orders/payments" "100,99,113" \
    "$(q p3 'SELECT (SELECT count(*) FROM bronze.customers), (SELECT count(*) FROM bronze.orders), (SELECT count(*) FROM bronze.payments)')"
check_eq "jaffle: nothing quarantined" "0" \
    "$(q p3 'SELECT (SELECT count(*) FROM quarantine.customers) + (SELECT count(*) FROM quarantine.orders) + (SELECT count(*) FROM quarantine.payments)')"
check_eq "jaffle: sum(amount) of payments in cents" 167200 "$(q p3 'SELECT sum(amount) FROM bronze.payments')"
check_eq "jaffle: status counts (CRLF file: no CR in the values)" \
    "completed:67|placed:13|return_pending:2|returned:4|shipped:13" \
    "$(q p3 "SELECT string_agg(status || ':' || n, '|' ORDER BY status) FROM (SELECT status, count(*) AS n FROM bronze.orders GROUP BY status)")"
check_eq "jaffle: payment_method counts" "bank_transfer:33|coupon:13|credit_card:55|gift_card:12" \
    "$(q p3 "SELECT string_agg(payment_method || ':' || n, '|' ORDER BY payment_method) FROM (SELECT payment_method, count(*) AS n FROM bronze.payments GROUP BY ALL)")"
check_eq "jaffle: gold.revenue_per_customer total in dollars" "1672.00" \
    "$(q p3 'SELECT CAST(sum(revenue) AS DECIMAL(18,2)) FROM gold.revenue_per_customer')"
d "SELECT o.user_id, count(DISTINCT o.id), CAST(sum(p.amount) / 100 AS DECIMAL(18,2))
   FROM read_csv('$J/raw_payments.csv') AS p JOIN read_csv('$J/raw_orders.csv') AS o ON o.id = p.order_id
   GROUP BY 1 ORDER BY 1" > want.csv
q p3 'SELECT customer_id, orders, revenue FROM gold.revenue_per_customer ORDER BY 1' > got.csv
check_files_eq "jaffle: revenue per customer equals DuckDB over the raw seeds" want.csv got.csv
check_eq "jaffle: some customers expected (sanity of the DuckDB figures)" 1 "$([ "$(wc -l < want.csv)" -gt 50 ] && echo 1 || echo 0)"

# --- 4. the NYC taxi sample ---------------------------------------------------------
mkdir -p p4/sources p4/in/trips
cp "$TESTDATA/sales/yellow_tripdata_sample_2019-01.csv" p4/in/trips/
cd p4
echo "name: taxi" > smelt.yml
csv_source trips in/trips "*.csv" '{timestamp_format: "%Y-%m-%d %H:%M:%S"}' \
    vendor_id:INTEGER pickup_datetime:TIMESTAMP dropoff_datetime:TIMESTAMP passenger_count:INTEGER \
    trip_distance:DOUBLE rate_code_id:INTEGER store_and_fwd_flag:VARCHAR pickup_location_id:INTEGER \
    dropoff_location_id:INTEGER payment_type:INTEGER fare_amount:"DECIMAL(10,2)" extra:"DECIMAL(10,2)" \
    mta_tax:"DECIMAL(10,2)" tip_amount:"DECIMAL(10,2)" tolls_amount:"DECIMAL(10,2)" \
    improvement_surcharge:"DECIMAL(10,2)" total_amount:"DECIMAL(10,2)" congestion_surcharge:"DECIMAL(10,2)"
cd ..
run_smelt p4
check_eq "taxi: smelt run exits 0" 0 "$rc"
check_eq "taxi: rows" 10000 "$(q p4 'SELECT count(*) FROM bronze.trips')"
check_eq "taxi: nothing quarantined" 0 "$(q p4 'SELECT count(*) FROM quarantine.trips')"
q p4 "SELECT error_type, line, split_part(error, chr(10), 1) FROM quarantine.trips LIMIT 3" | sed 's/^/# quarantine.trips: /'
check_eq "taxi: sum(total_amount)" 157242.31 "$(q p4 'SELECT sum(total_amount) FROM bronze.trips')"
check_eq "taxi: sum(fare_amount)" 124850.31 "$(q p4 'SELECT sum(fare_amount) FROM bronze.trips')"
check_eq "taxi: payment_type counts" "1:7134|2:2814|3:40|4:12" \
    "$(q p4 "SELECT string_agg(payment_type || ':' || n, '|' ORDER BY payment_type) FROM (SELECT payment_type, count(*) AS n FROM bronze.trips GROUP BY ALL)")"
check_eq "taxi: empty trailing congestion_surcharge is NULL (6327 rows)" 6327 \
    "$(q p4 'SELECT count(*) FILTER (WHERE congestion_surcharge IS NULL) FROM bronze.trips')"
check_eq "taxi: pickup range" "2019-01-01 00:00:50,2019-01-31 23:59:11" \
    "$(q p4 'SELECT min(pickup_datetime), max(pickup_datetime) FROM bronze.trips')"
check_eq "taxi: store_and_fwd_flag is N or Y in every row (no stray CR)" 10000 \
    "$(q p4 "SELECT count(*) FROM bronze.trips WHERE store_and_fwd_flag IN ('N', 'Y')")"

# --- 5. truncated and corrupt compressed files, unsafe and corrupt archives ---------
mkdir -p p5/sources p5/in/c p5/in/z p5/stage
cd p5
echo "name: p5" > smelt.yml
csv_source c in/c "*" "" id:INTEGER name:VARCHAR
csv_source z in/z "*" "" id:INTEGER name:VARCHAR
awk 'BEGIN { print "id,name"; for (i = 1; i <= 20000; i++) printf "%d,name %d\n", i, i * 7919 % 100003 }' > stage/big.csv
printf 'id,name\n1,a\n2,b\n' > stage/small.csv
for c in "zstd -q -c" "bzip2 -c" "xz -c"; do
    ext=$(echo "$c" | awk '{ print $1 == "zstd" ? "zst" : $1 == "bzip2" ? "bz2" : "xz" }')
    $c stage/small.csv > in/c/good.csv.$ext
    $c stage/big.csv > stage/big.$ext
    head -c $(($(wc -c < stage/big.$ext) / 2)) stage/big.$ext > in/c/trunc.csv.$ext
done
printf 'id,name\n9,i\n' > in/c/notreally.csv.bz2
# archives: a good member beside members that must not be extracted
python3 - <<'EOF2'
import io, tarfile, zipfile
with zipfile.ZipFile("in/z/unsafe.zip", "w") as z:
    z.writestr("ok/good.csv", "id,name\n1,a\n2,b\n")
    z.writestr("../evil.csv", "id,name\n66,evil\n")
    z.writestr("/abs.csv", "id,name\n67,abs\n")
    z.writestr("dir/../../up.csv", "id,name\n68,up\n")
    z.writestr("emptydir/", "")
    z.writestr("notes.md", "hello\n")
    link = zipfile.ZipInfo("link.csv")
    link.external_attr = (0o120777 << 16)
    z.writestr(link, "/etc/passwd")
with tarfile.open("in/z/unsafe.tar", "w") as t:
    data = b"id,name\n3,c\n"
    ti = tarfile.TarInfo("good.csv"); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
    ti = tarfile.TarInfo("sym.csv"); ti.type = tarfile.SYMTYPE; ti.linkname = "/etc/passwd"; t.addfile(ti)
    ti = tarfile.TarInfo("hard.csv"); ti.type = tarfile.LNKTYPE; ti.linkname = "good.csv"; t.addfile(ti)
    ti = tarfile.TarInfo("fifo.csv"); ti.type = tarfile.FIFOTYPE; t.addfile(ti)
    ti = tarfile.TarInfo("sub"); ti.type = tarfile.DIRTYPE; t.addfile(ti)
# a zip cut in half: its members are quarantined with it, none loads
with zipfile.ZipFile("stage/whole.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.write("stage/big.csv", "a.csv")
    z.write("stage/big.csv", "b.csv")
data = open("stage/whole.zip", "rb").read()
open("in/z/cut.zip", "wb").write(data[: len(data) // 2])
EOF2
cd ..
run_smelt p5
check_eq "compressed: smelt run exits 0" 0 "$rc"
check_eq "compressed: the good zst, bz2 and xz files load" "6,9" "$(q p5 'SELECT count(*), sum(id) FROM bronze.c')"
check_eq "compressed: the truncated ones and the false bz2 are quarantined whole" \
    "notreally.csv.bz2|trunc.csv.bz2|trunc.csv.xz|trunc.csv.zst" \
    "$(q p5 "SELECT string_agg(f, '|' ORDER BY f) FROM (SELECT split_part(_source_file, '/', -1) AS f FROM quarantine.c WHERE error_type = 'UNREADABLE FILE')")"
for ext in zst bz2 xz; do
    check_match "compressed: the error of trunc.csv.$ext says what is wrong" "truncat|corrupt|end" \
        "$(q p5 "SELECT error FROM quarantine.c WHERE _source_file LIKE '%trunc.csv.$ext'")"
done
check_match "compressed: the false bz2 is named as not bzip2" "not bzip2" \
    "$(q p5 "SELECT error FROM quarantine.c WHERE _source_file LIKE '%notreally%'")"
check_eq "compressed: nothing of the truncated files in bronze" 0 \
    "$(q p5 "SELECT count(*) FROM bronze.c WHERE _source_file LIKE '%trunc%'")"
check_eq "archives: only the safe members load (ok/good.csv, good.csv)" "3,6" "$(q p5 'SELECT count(*), sum(id) FROM bronze.z')"
check_eq "archives: no row from an unsafe member" 0 "$(q p5 'SELECT count(*) FROM bronze.z WHERE id >= 66 OR name = '"'"'evil'"'"'')"
check_eq "archives: each refused member is quarantined with its name" \
    "cut.zip|unsafe.tar!fifo.csv|unsafe.tar!hard.csv|unsafe.tar!sym.csv|unsafe.zip!../evil.csv|unsafe.zip!/abs.csv|unsafe.zip!dir/../../up.csv|unsafe.zip!link.csv|unsafe.zip!notes.md" \
    "$(q p5 "SELECT string_agg(f, '|' ORDER BY f) FROM (SELECT substr(_source_file, length('landing/z/yyyy/mm/dd/') + length(_batch_id) + 2) AS f FROM quarantine.z)")"
check_match "archives: '..' is refused as leaving the folder" "'\.\.' segment" \
    "$(q p5 "SELECT error FROM quarantine.z WHERE _source_file LIKE '%evil.csv'")"
check_match "archives: an absolute name is refused" "absolute" "$(q p5 "SELECT error FROM quarantine.z WHERE _source_file LIKE '%/abs.csv'")"
check_match "archives: a symbolic link is refused" "symbolic link" "$(q p5 "SELECT error FROM quarantine.z WHERE _source_file LIKE '%!sym.csv'")"
check_match "archives: a hard link is refused" "hard link" "$(q p5 "SELECT error FROM quarantine.z WHERE _source_file LIKE '%!hard.csv'")"
check_match "archives: a member of another format is refused" "csv file" "$(q p5 "SELECT error FROM quarantine.z WHERE _source_file LIKE '%notes.md'")"
check_match "archives: the cut zip is quarantined whole" "truncat|corrupt" "$(q p5 "SELECT error FROM quarantine.z WHERE _source_file LIKE '%cut.zip'")"
check_eq "archives: nothing was extracted outside the temporary folder" "" \
    "$(find "$WORK" -name 'evil.csv' -o -name 'abs.csv' -o -name 'up.csv' | head -3)"
check_eq "archives: the temporary folder is empty after the run" 0 "$(find p5/.smelt/tmp -type f 2> /dev/null | wc -l | tr -d ' ')"
run_smelt p5
check_eq "archives: a rerun quarantines nothing again" "9,4" \
    "$(q p5 'SELECT (SELECT count(*) FROM quarantine.z), (SELECT count(*) FROM quarantine.c)')"

# --- 6. decompression bombs (defaults.max_expansion, 1000 by default) -----------
# 80 MB of zeros compresses about 1030:1 with deflate and far more with zstd:
# each of these inflates past the 64 MiB floor at more than 1000:1.
mkdir -p p6/sources p6/in/b p6/stage
cd p6
echo "name: p6" > smelt.yml
csv_source b in/b "*" "" id:INTEGER name:VARCHAR
head -c 80000000 /dev/zero > stage/zeros
zstd -q -c stage/zeros > in/b/bomb.csv.zst
gzip -9 -c stage/zeros > in/b/bomb.csv.gz
printf 'id,name\n1,a\n2,b\n' | gzip -c > in/b/good.csv.gz
python3 - <<'EOF2'
import zipfile
zeros = open("stage/zeros", "rb").read()
with zipfile.ZipFile("in/b/one.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.writestr("good.csv", "id,name\n3,c\n")
    z.writestr("bomb.csv", zeros)
# forty members of 2 MB, none past the floor alone, 80 MB together
with zipfile.ZipFile("in/b/many.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for i in range(40):
        z.writestr("m%02d.csv" % i, zeros[:2000000])
EOF2
rm stage/zeros
cd ..
check_eq "bombs: the test's files are small and really inflate to 80 MB" "80000000" "$(gzip -dc p6/in/b/bomb.csv.gz | wc -c | tr -d ' ')"
run_smelt p6
check_eq "bombs: smelt run exits 0" 0 "$rc"
check_eq "bombs: the good file (ids 1, 2) and the good member (id 3) load" "3,6" "$(q p6 'SELECT count(*), sum(id) FROM bronze.b')"
check_eq "bombs: the zst, the gz, the zip member and the many-member zip are quarantined" \
    "bomb.csv.gz|bomb.csv.zst|many.zip|one.zip!bomb.csv" \
    "$(q p6 "SELECT string_agg(f, '|' ORDER BY f) FROM (SELECT regexp_replace(_source_file, '^.*/', '') AS f FROM quarantine.b)")"
check_eq "bombs: every one is named a likely decompression bomb, with the key to raise" 4 \
    "$(q p6 "SELECT count(*) FROM quarantine.b WHERE error LIKE '%decompression bomb%' AND error LIKE '%defaults.max_expansion%'")"
check_match "bombs: the many-member zip is refused as a whole" "archive as a whole" \
    "$(q p6 "SELECT error FROM quarantine.b WHERE _source_file LIKE '%many.zip'")"
check_eq "bombs: no member of the many-member zip loaded, nothing left in the temporary folder" "0,0" \
    "$(q p6 "SELECT count(*) FROM bronze.b WHERE _source_file LIKE '%many.zip%'"),$(find p6/.smelt/tmp -type f 2> /dev/null | wc -l | tr -d ' ')"
# With the check off, the zst is read on: it then fails as what it is, a
# file of NUL bytes, not as a bomb.
printf 'name: p6\ndefaults:\n  max_expansion: 0\n' > p6/smelt.yml
"$SMELT" -C p6 ingest b --reprocess p6/in/b/bomb.csv.zst --format csv > /dev/null 2> run.err
check_eq "bombs: with max_expansion 0 the zst is read again (a second batch) and not refused as a bomb" "2,1" \
    "$(q p6 "SELECT count(DISTINCT _batch_id), count(*) FILTER (WHERE error LIKE '%bomb%') FROM quarantine.b WHERE _source_file LIKE '%bomb.csv.zst'")"

# --- 7. a zip member larger than the archive says ----------------------------------
# Members of stated size may be read into memory: one that holds more than
# it says must be refused, not read on.
mkdir -p p7/sources p7/in
cd p7
echo "name: p7" > smelt.yml
csv_source z in "*.zip" "" id:INTEGER name:VARCHAR
python3 - <<'EOF2'
import struct, zipfile
data = "id,name\n" + "".join("%d,n%d\n" % (i, i) for i in range(1, 2001))
with zipfile.ZipFile("in/lie.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("lie.csv", data)
    z.writestr("ok.csv", "id,name\n7,g\n")
b = bytearray(open("in/lie.zip", "rb").read())
# the first member's uncompressed size: local header (offset 22) and central directory (+24)
assert struct.unpack_from("<I", b, 22)[0] == len(data)
struct.pack_into("<I", b, 22, 100)
cd = b.find(b"PK\x01\x02")
assert struct.unpack_from("<I", b, cd + 24)[0] == len(data)
struct.pack_into("<I", b, cd + 24, 100)
open("in/lie.zip", "wb").write(b)
# a member whose compressed bytes were damaged in transit: one byte flipped
# in the middle of its data (the zip's CRC-32 no longer matches)
with zipfile.ZipFile("in/flip.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("flip.csv", data)
    z.writestr("fine.csv", "id,name\n30,h\n")
b = bytearray(open("in/flip.zip", "rb").read())
start = 30 + len("flip.csv")
size = struct.unpack_from("<I", b, 18)[0]
b[start + size // 2] ^= 0x55
open("in/flip.zip", "wb").write(b)
EOF2
cd ..
"$SMELT" -v -C p7 run --format csv > run.out 2> run.err
rc=$?
check_eq "both zips are read by smelt's own zip reader, not libarchive" "" \
    "$(grep 'read by libarchive' run.err)"
check_eq "a member larger than stated, a damaged member: the run exits 0, the honest members load" \
    "0,2,37" "$rc,$(q p7 'SELECT count(*), sum(id) FROM bronze.z')"
check_match "a member larger than stated: quarantined, saying its size is wrong" "lie.csv,.*(wrong size|more than the 100 bytes)" \
    "$(q p7 "SELECT regexp_replace(_source_file, '^.*!', '') || ',' || error FROM quarantine.z WHERE _source_file LIKE '%lie.csv'")"
check_match "a damaged member: quarantined, saying it is corrupt" "flip.csv,.*(corrupt|CRC|bytes)" \
    "$(q p7 "SELECT regexp_replace(_source_file, '^.*!', '') || ',' || error FROM quarantine.z WHERE _source_file LIKE '%flip.csv'")"

# --- 8. many small .gz files: the plain copies kept in memory are capped ----------
# (each counts at least 1 MB of the 256 MB budget, so at most 256 are open);
# with 400 descriptors allowed, 600 files still load
mkdir -p p8/sources p8/in
echo "name: p8" > p8/smelt.yml
(cd p8 && csv_source g in "*.csv.gz" "" id:INTEGER name:VARCHAR)
i=1
while [ $i -le 600 ]; do
    printf 'id,name\n%d,n\n' $i | gzip -c > p8/in/f$i.csv.gz
    i=$((i + 1))
done
(ulimit -n 400 && "$SMELT" -C p8 run --format csv > run.out 2> run.err)
check_eq "600 small gz files under a 400-descriptor limit: the run exits 0" 0 "$?"
check_eq "600 small gz files: every row once (hand sum 1..600 = 180300)" "600,180300,0" \
    "$(q p8 'SELECT count(*), sum(id), (SELECT count(*) FROM quarantine.g) FROM bronze.g')"

done_testing
