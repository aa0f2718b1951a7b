#!/bin/sh
# End to end: reruns. A rerun with nothing new commits nothing; a new day's
# file (written here by hand, with known rows) lands once and flows through
# to gold; a touched or copied file is not landed again; --full-refresh
# rebuilds every model with the same contents. Expected figures come from
# DuckDB over the raw incoming files, hand counts and sqlite3 on state.db.
. "$(dirname "$0")/lib.sh"

if [ "$SAN" = 1 ]; then ROWS=3000 DAYS=8; else ROWS=20000 DAYS=10; fi
P="$WORK/shop"
DB="$P/.smelt/state.db"

# "zone.table versions" for every Delta table, sorted
versions() {
    for d in "$P"/lake/*/*/_delta_log; do
        [ -d "$d" ] || continue
        t=$(dirname "$d")
        echo "$(basename "$(dirname "$t")").$(basename "$t") $(ls "$d" | grep -c '\.json$')"
    done | sort
}
ver() { awk -v t="$1" '$1 == t { print $2 }' "$2"; }
all_json() { find "$P/lake" -path '*/_delta_log/*' -name '*.json' | sort; }
landed() { sqlite3 "$DB" "SELECT count(*) FROM landed_files"; }
manifests() { find "$P/lake/landing" -name _manifest.json | wc -l | tr -d ' '; }
# CSV field of a task in a run summary: summary_field FILE TASK COLUMN
summary_field() { awk -F, -v t="$2" -v c="$3" '$1 == t { print $c }' "$1"; }

ORDER_COLS="{'order_id':'BIGINT','line_no':'INTEGER','order_ts':'TIMESTAMP','updated_at':'TIMESTAMP','status':'VARCHAR','customer_id':'BIGINT','store_id':'INTEGER','product_id':'INTEGER','quantity':'INTEGER','unit_price':'DECIMAL(10,2)'}"
# Independent gold figures from every readable orders file in incoming/.
expected_gold() { # $1 = SELECT over sil
    list=""
    for f in "$P"/incoming/orders/orders_*.csv.gz; do
        gzip -t "$f" 2> /dev/null && list="$list,'$f'"
    done
    # the in-store feed: every zip in incoming/orders_pos, unpacked by python
    rm -rf "$WORK/pos" && mkdir -p "$WORK/pos"
    for z in "$P"/incoming/orders_pos/*.zip; do
        python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$z" "$WORK/pos"
    done
    duck "CREATE TABLE raw AS SELECT * FROM read_csv([${list#,}], header=true, delim=',', timestampformat='%Y-%m-%d %H:%M:%S', ignore_errors=true, filename=true, columns=$ORDER_COLS)" \
        "CREATE TABLE pos AS SELECT * FROM read_csv('$WORK/pos/*.csv', header=true, delim=',', timestampformat='%Y-%m-%d %H:%M:%S', filename=true, columns=$ORDER_COLS)" \
        "CREATE TABLE sil AS SELECT *, CAST(order_ts AS DATE) AS order_date, quantity * unit_price AS line_amount FROM (SELECT *, row_number() OVER (PARTITION BY order_id, line_no ORDER BY updated_at DESC, filename DESC) AS rn FROM (SELECT * FROM raw UNION ALL BY NAME SELECT * FROM pos)) WHERE rn = 1 AND quantity > 0" \
        "$1"
}
DS_EXP="SELECT order_date AS day, store_id, CAST(sum(line_amount) AS DECIMAL(18,2)) AS revenue, count(DISTINCT order_id) AS orders, CAST(sum(quantity) AS BIGINT) AS units FROM sil WHERE status <> 'cancelled' GROUP BY 1, 2 ORDER BY 1, 2"
DS_ACT="SELECT day, store_id, CAST(revenue AS DECIMAL(18,2)) AS revenue, orders, units FROM gold.daily_sales ORDER BY 1, 2"
CLV_EXP="SELECT count(*) AS n, sum(r) AS revenue FROM (SELECT customer_id, CAST(sum(line_amount) AS DECIMAL(18,2)) AS r FROM sil WHERE customer_id IS NOT NULL AND status <> 'cancelled' GROUP BY 1)"
CLV_ACT="SELECT count(*) AS n, sum(revenue) AS revenue FROM gold.customer_lifetime_value"
PP_EXP="SELECT count(*) AS n, sum(u) AS units, sum(r) AS revenue FROM (SELECT product_id, sum(quantity) AS u, CAST(sum(line_amount) AS DECIMAL(18,2)) AS r FROM sil WHERE status <> 'cancelled' GROUP BY 1)"
PP_ACT="SELECT count(*) AS n, sum(units) AS units, sum(revenue) AS revenue FROM gold.product_performance"
check_gold() { # $1 = label
    expected_gold "$DS_EXP" > "$WORK/ds.exp"
    smelt_q "$P" "$DS_ACT" > "$WORK/ds.act"
    check_files_eq "$1: gold.daily_sales == recomputation over all readable files" "$WORK/ds.exp" "$WORK/ds.act"
    check_eq "$1: gold.customer_lifetime_value count, sum(revenue) == recomputation" \
        "$(expected_gold "$CLV_EXP")" "$(smelt_q "$P" "$CLV_ACT")"
    check_eq "$1: gold.product_performance count, sum(units), sum(revenue) == recomputation" \
        "$(expected_gold "$PP_EXP")" "$(smelt_q "$P" "$PP_ACT")"
}

# ------------------------------------------------------------- first run
"$SMELT" init "$P" --rows "$ROWS" --days "$DAYS" > /dev/null 2>&1
check_eq "init exits 0" 0 $?
"$SMELT" -C "$P" run > "$WORK/run1.out" 2> "$WORK/run1.err"
check_eq "first run exits 0" 0 $?
nfiles=$(ls "$P"/incoming/*/* | wc -l | tr -d ' ')
check_eq "first run: landed_files has one row per incoming file" "$nfiles" "$(landed)"
check_gold "first run"

# ----------------------------------------------- rerun with nothing new
all_json > "$WORK/json.1"
versions > "$WORK/v.1"
L1=$(landed)
M1=$(manifests)
"$SMELT" -C "$P" run --format table > "$WORK/run2.out" 2> "$WORK/run2.err"
check_eq "rerun without new files exits 0" 0 $?
check_contains "rerun without new files says 'nothing to do'" "nothing to do" "$(cat "$WORK/run2.out" "$WORK/run2.err")"
"$SMELT" -C "$P" run > "$WORK/run3.out" 2> "$WORK/run3.err"
check_eq "rerun (csv summary) exits 0" 0 $?
busy=$(tail -n +2 "$WORK/run3.out" | awk -F, '$1 !~ /^landing\./ && $2 != "skipped" { print $1 "=" $2 }' | tr '\n' ' ')
check_eq "rerun (csv summary): every bronze/silver/gold task skipped" "" "$busy"
landed_out=$(tail -n +2 "$WORK/run3.out" | awk -F, '$1 ~ /^landing\./ { s += $4 } END { print s + 0 }')
check_eq "rerun (csv summary): landing tasks landed 0 files" 0 "$landed_out"
all_json > "$WORK/json.2"
check_files_eq "reruns without new files add no file to any _delta_log" "$WORK/json.1" "$WORK/json.2"
check_eq "reruns without new files: landed_files unchanged" "$L1" "$(landed)"
check_eq "reruns without new files: no new landing batch" "$M1" "$(manifests)"

# ------------------------------------------- a new day's file, by hand
# --days N+1 does not reproduce the first N days' bytes (the rows are spread
# over the days), so the next day's file is written here with known rows.
same=1
"$SMELT" init "$WORK/plus1" --rows "$ROWS" --days $((DAYS + 1)) > /dev/null 2>&1
for f in "$P"/incoming/orders/*; do cmp -s "$f" "$WORK/plus1/incoming/orders/$(basename "$f")" || same=0; done
echo "# --days $DAYS vs $((DAYS + 1)) same first files: $same (a hand-written file is used either way)"

last=$(ls "$P"/incoming/orders/orders_*.csv.gz | sort | tail -1)
last=$(basename "$last" .csv.gz)
last=${last#orders_}
D=$(duck "SELECT CAST(DATE '$last' + 1 AS VARCHAR) AS d" | tail -1)
first_good=""
for f in "$P"/incoming/orders/orders_*.csv.gz; do
    gzip -t "$f" 2> /dev/null && { first_good=$f; break; }
done
resent=$(gzip -dc "$first_good" | sed -n 2p)   # an order line re-sent with a new quantity
resent_key=$(echo "$resent" | cut -d, -f1-2)
NEW="$WORK/orders_$D.csv"
{
    echo "order_id,line_no,order_ts,updated_at,status,customer_id,store_id,product_id,quantity,unit_price"
    echo "9000001,1,$D 10:00:00,$D 11:00:00,placed,5,1,10,2,19.99"
    echo "9000001,2,$D 10:00:00,$D 11:00:00,placed,5,1,11,1,5.00"
    echo "9000002,1,$D 12:00:00,$D 12:30:00,cancelled,6,2,12,3,7.50"
    echo "9000003,1,$D 13:00:00,$D 13:05:00,delivered,,3,13,0,9.99"
    echo "$resent" | awk -F, -v d="$D" 'BEGIN { OFS = "," } { $4 = d " 23:00:00"; $9 = 7; print }'
    echo "9000004,1,not-a-time,$D 13:05:00,placed,7,3,13,1,9.99"
} > "$NEW"
gzip -n "$NEW"
NEW="$NEW.gz"
new_lines=$(gzip -dc "$NEW" | tail -n +2 | awk 'END { print NR }')
# (materialized first: a bare count(*) over read_csv projects no column, so
# ignore_errors would not drop the line that fails its cast)
new_good=$(duck "CREATE TABLE n AS SELECT * FROM read_csv('$NEW', header=true, delim=',', timestampformat='%Y-%m-%d %H:%M:%S', ignore_errors=true, columns=$ORDER_COLS)" \
    "SELECT count(*) AS n FROM n" | tail -1)
check_eq "hand-written day file: 6 data lines, DuckDB parses 5" "6 5" "$new_lines $new_good"

B1=$(smelt_q "$P" "SELECT count(*) AS n FROM bronze.orders" | tail -1)
Q1=$(smelt_q "$P" "SELECT count(*) AS n FROM quarantine.orders" | tail -1)
cp "$NEW" "$P/incoming/orders/"
versions > "$WORK/v.2"
L2=$(landed)
"$SMELT" -C "$P" run > "$WORK/run4.out" 2> "$WORK/run4.err"
rc=$?
check_eq "run with one new file exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$WORK/run4.err" | head -10
check_eq "run with one new file: summary says landing.orders landed 1 file" 1 "$(summary_field "$WORK/run4.out" landing.orders 4)"
others=$(tail -n +2 "$WORK/run4.out" | awk -F, '$1 ~ /^landing\./ && $1 != "landing.orders" { s += $4 } END { print s + 0 }')
check_eq "run with one new file: other sources landed nothing" 0 "$others"
check_eq "run with one new file: landed_files gained exactly one row" "$((L2 + 1))" "$(landed)"
check_eq "run with one new file: the new row is the new file" "1" \
    "$(sqlite3 "$DB" "SELECT count(*) FROM landed_files WHERE orig_path LIKE '%/orders_$D.csv.gz' AND sha256 = '$(sha256sum "$NEW" | cut -d' ' -f1)'")"
B2=$(smelt_q "$P" "SELECT count(*) AS n FROM bronze.orders" | tail -1)
check_eq "bronze.orders gained exactly the new file's parsable rows" "$((B1 + new_good))" "$B2"
check_eq "bronze.orders rows from the new file" "$new_good" \
    "$(smelt_q "$P" "SELECT count(*) AS n FROM bronze.orders WHERE _source_file LIKE '%/orders_$D.csv.gz'" | tail -1)"
check_eq "quarantine.orders gained the new file's bad line (line 7, order_ts)" "$(printf 'n,line,column_name\n1,7,order_ts')" \
    "$(smelt_q "$P" "SELECT count(*) AS n, min(line) AS line, min(column_name) AS column_name FROM quarantine.orders WHERE _source_file LIKE '%/orders_$D.csv.gz'")"
check_eq "quarantine.orders gained one row in all" "$((Q1 + 1))" "$(smelt_q "$P" "SELECT count(*) AS n FROM quarantine.orders" | tail -1)"
check_eq "silver.orders keeps the re-sent version of $resent_key (quantity 7)" "$(printf 'n,quantity\n1,7')" \
    "$(smelt_q "$P" "SELECT count(*) AS n, max(quantity) AS quantity FROM silver.orders WHERE (order_id, line_no) = ($resent_key)")"
check_eq "silver.orders drops the new quantity-0 line" 0 \
    "$(smelt_q "$P" "SELECT count(*) AS n FROM silver.orders WHERE order_id = 9000003" | tail -1)"
check_gold "after the new file"
versions > "$WORK/v.3"
for t in bronze.orders silver.orders gold.daily_sales gold.customer_lifetime_value gold.product_performance; do
    check_eq "$t: exactly one new Delta version" "$(($(ver $t "$WORK/v.2") + 1))" "$(ver $t "$WORK/v.3")"
done
for t in bronze.customers bronze.products bronze.stores silver.customers silver.products silver.stores; do
    check_eq "$t (unaffected): no new Delta version" "$(ver $t "$WORK/v.2")" "$(ver $t "$WORK/v.3")"
done

# ------------------------------- touched and copied files: not landed again
all_json > "$WORK/json.3"
L3=$(landed)
M3=$(manifests)
B3=$(smelt_q "$P" "SELECT count(*) AS n FROM bronze.orders" | tail -1)
touch -m -d '2031-02-03 04:05:06' "$first_good"
cp "$first_good" "$P/incoming/orders/orders_${D}_copy.csv.gz"
"$SMELT" -C "$P" run --format table > "$WORK/run5.out" 2> "$WORK/run5.err"
check_eq "run after touch + copy exits 0" 0 $?
check_contains "run after touch + copy says 'nothing to do'" "nothing to do" "$(cat "$WORK/run5.out" "$WORK/run5.err")"
check_eq "touched / copied files: landed_files unchanged" "$L3" "$(landed)"
check_eq "touched / copied files: no new landing batch" "$M3" "$(manifests)"
check_eq "touched / copied files: bronze.orders unchanged" "$B3" "$(smelt_q "$P" "SELECT count(*) AS n FROM bronze.orders" | tail -1)"
all_json > "$WORK/json.4"
check_files_eq "touched / copied files: no _delta_log gained a file" "$WORK/json.3" "$WORK/json.4"

# ------------------------------------------------------------ full refresh
MODELS="silver.customers silver.orders silver.products silver.stores gold.customer_lifetime_value gold.daily_sales gold.product_performance"
for t in $MODELS; do
    smelt_q "$P" "SELECT count(*) AS n, md5(string_agg(t::VARCHAR, chr(10) ORDER BY t::VARCHAR)) AS h FROM $t AS t" > "$WORK/before.$t"
done
versions > "$WORK/v.4"
"$SMELT" -C "$P" run --full-refresh > "$WORK/run6.out" 2> "$WORK/run6.err"
check_eq "run --full-refresh exits 0" 0 $?
versions > "$WORK/v.5"
for t in $MODELS; do
    check_eq "--full-refresh: $t state success in the summary" success "$(summary_field "$WORK/run6.out" "$t" 2)"
    check_eq "--full-refresh: $t has one new Delta version" "$(($(ver $t "$WORK/v.4") + 1))" "$(ver $t "$WORK/v.5")"
    smelt_q "$P" "SELECT count(*) AS n, md5(string_agg(t::VARCHAR, chr(10) ORDER BY t::VARCHAR)) AS h FROM $t AS t" > "$WORK/after.$t"
    check_files_eq "--full-refresh: $t same contents" "$WORK/before.$t" "$WORK/after.$t"
done
check_eq "--full-refresh: bronze.orders not reloaded" "$B3" "$(smelt_q "$P" "SELECT count(*) AS n FROM bronze.orders" | tail -1)"
check_eq "--full-refresh: landed_files unchanged" "$L3" "$(landed)"
check_gold "after --full-refresh"

done_testing
