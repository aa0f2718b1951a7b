#!/bin/sh
# smelt run --rebuild-bronze: bronze and quarantine rebuilt from the landing
# zone alone. The example project plus a REST source (tests/e2e/rest_server.py)
# is run twice (a new day of orders, new API records in between), so bronze
# has several batches, rejected lines and a quarantined file; then the
# incoming files are deleted and the API server is stopped, and the rebuild
# must give every bronze and quarantine table back row for row, provenance
# included (_batch_id and _ingested_at are kept per batch), and the models
# the same results.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
cd "$WORK" || exit 1

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1

q() { smelt_q "$1" "$2" 2> q.err | tail -n +2; }
if [ "$SAN" = 1 ]; then ROWS=6000 DAYS=5; else ROWS=20000 DAYS=8; fi

python3 "$here/rest_server.py" "$WORK/port" 30 > server.log 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
i=0
while [ ! -s "$WORK/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
PORT=$(cat "$WORK/port" 2>/dev/null)
BASE="http://127.0.0.1:$PORT"

"$SMELT" init shop --rows $ROWS --days $DAYS > init.out 2>&1 || { not_ok "smelt init" "$(cat init.out)"; done_testing; exit 1; }
cat > shop/sources/items.yml <<EOF
kind: rest
base_url: $BASE
resource: offset/items
records: data.items[*]
paginate: {type: offset, limit: 10, total_path: meta.total}
incremental: {cursor_field: updated_at, param: updated_since}
EOF
"$SMELT" -C shop run --format csv > run1.out 2> run1.err
check_eq "first run exits 0" 0 "$?"
# a second batch of everything: one more day of orders (one bad line), new API records
printf '%s\n' 'order_id,line_no,order_ts,updated_at,status,customer_id,store_id,product_id,quantity,unit_price' \
    '2000001,1,2026-02-01 09:15:00,2026-02-01 09:15:00,placed,42,3,17,2,29.49' \
    '2000002,1,2026-02-01 10:02:00,2026-02-01 10:02:00,placed,oops,1,132,1,269.14' \
    '2000001,2,2026-02-01 09:15:00,2026-02-01 09:15:00,placed,42,3,66,1,388.99' |
    gzip -c > shop/incoming/orders/orders_2026-02-01.csv.gz
curl -s --noproxy '*' "$BASE/admin/grow?n=12" > /dev/null
sleep 1 # another second: the second run's _ingested_at differs from the first's
"$SMELT" -C shop run --format csv > run2.out 2> run2.err
check_eq "second run exits 0" 0 "$?"

TABLES=$(cd shop/lake && for z in bronze quarantine silver gold; do
    for t in "$z"/*/_delta_log; do [ -d "$t" ] && echo "$z.$(basename "$(dirname "$t")")"; done
done)
# dump DIR OUT: every row of every table, all columns, one text line each
dump() {
    for t in $TABLES; do
        smelt_q "$1" "SELECT '$t' AS t, replace(CAST(x AS VARCHAR), chr(10), '\\n') AS r FROM (SELECT * FROM $t) x ORDER BY r" | tail -n +2
    done > "$2"
}
dump shop before.txt
check_eq "before: bronze.orders holds two batches' times" 2 "$(q shop 'SELECT count(DISTINCT _ingested_at) FROM bronze.orders')"
check_eq "before: bronze.items holds two batches" 2 "$(q shop 'SELECT count(DISTINCT _batch_id) FROM bronze.items')"
check_eq "before: quarantine.orders has lines and the truncated file" 1 \
    "$(q shop "SELECT count(*) FILTER (WHERE error_type = 'UNREADABLE FILE') FROM quarantine.orders")"
bv=$(q shop "SELECT count(*) FROM bronze.orders")

# the sources are gone: no incoming file, no API
rm -rf shop/incoming
kill "$pid" 2> /dev/null
wait "$pid" 2> /dev/null
curl -s --noproxy '*' -m 2 "$BASE/count" > /dev/null 2>&1
check_eq "the API server is down" 1 "$([ $? -ne 0 ] && echo 1 || echo 0)"

"$SMELT" -C shop run --rebuild-bronze --format csv > rb.out 2> rb.err
check_eq "rebuild: exits 0 with no source to read" 0 "$?"
check_eq "rebuild: every landing task skipped" "skipped" "$(grep '^landing\.' rb.out | cut -d, -f2 | sort -u)"
check_eq "rebuild: every bronze task succeeds" "success" "$(grep '^bronze\.' rb.out | cut -d, -f2 | sort -u)"
nlanded=$(sqlite3 shop/.smelt/state.db "SELECT count(*) FROM landed_files WHERE source = 'orders' AND status = 'landed'")
check_contains "rebuild: the note says from how many landed files" "rebuilt from $nlanded landed files" "$(grep '^bronze.orders,' rb.out)"
check_eq "rebuild: bronze.orders rows" "$bv" "$(grep '^bronze.orders,' rb.out | cut -d, -f4)"
dump shop after.txt
for t in $TABLES; do
    grep "^$t," before.txt > b.t
    grep "^$t," after.txt > a.t
    if cmp -s b.t a.t; then ok "rebuild: $t is row for row what it was ($(wc -l < b.t) rows)"; else
        not_ok "rebuild: $t is row for row what it was" "$(wc -l < b.t) rows before, $(wc -l < a.t) after" "$(diff b.t a.t | head -6)"; fi
done
hist=$("$SMELT" -C shop history bronze.orders --format csv | tail -1)
check_eq "rebuild: one overwrite commit of bronze.orders (all rows removed and added)" "$bv,$bv" \
    "$(echo "$hist" | cut -d, -f6,7)"
check_contains "rebuild: the commit says it is a rebuild" '"smelt.rebuild":"from the landing zone"' \
    "$(cat "$(ls shop/lake/bronze/orders/_delta_log/*.json | tail -1)")"
check_contains "rebuild: the incremental silver.orders takes the rewrite into account" "silver.orders,success" "$(cat rb.out)"
check_eq "rebuild: nothing on stderr" "" "$(cat rb.err)"

# a rebuild of one source through smelt ingest leaves the others alone
v_items=$(ls shop/lake/bronze/items/_delta_log/*.json | wc -l)
v_orders=$(ls shop/lake/bronze/orders/_delta_log/*.json | wc -l)
"$SMELT" -C shop ingest orders --rebuild-bronze --format csv > rb2.out 2> rb2.err
check_eq "ingest --rebuild-bronze orders: exits 0" 0 "$?"
check_eq "ingest --rebuild-bronze orders: its two tasks only" "landing.orders|bronze.orders" "$(tail -n +2 rb2.out | cut -d, -f1 | paste -sd'|')"
check_eq "ingest --rebuild-bronze orders: one more version of bronze.orders, none of bronze.items" \
    "$((v_orders + 1)),$v_items" \
    "$(ls shop/lake/bronze/orders/_delta_log/*.json | wc -l),$(ls shop/lake/bronze/items/_delta_log/*.json | wc -l)"
dump shop after2.txt
check_eq "ingest --rebuild-bronze orders: the tables are still what they were" "" "$(diff before.txt after2.txt | grep -v '^[<>] \(silver\|gold\)' | grep '^[<>]' | head -3)"
"$SMELT" -C shop run --rebuild-bronze nope > /dev/null 2> rb3.err
check_eq "run --rebuild-bronze with an unknown source: exit 2" 2 "$?"

# a landed page of the REST source loaded again, without the API
page=$(sqlite3 shop/.smelt/state.db "SELECT landing_path FROM landed_files WHERE source = 'items' ORDER BY id LIMIT 1")
nrec=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["data"]["items"]))' "$page")
ni=$(q shop 'SELECT count(*) FROM bronze.items')
"$SMELT" -C shop ingest items --reprocess "$page" --format csv > rp.out 2> rp.err
check_eq "reprocess of a landed REST page: exits 0 with the API down" 0 "$?"
check_eq "reprocess of a landed REST page: its $nrec records are in bronze once more" "$((ni + nrec))" \
    "$(q shop 'SELECT count(*) FROM bronze.items')"
check_eq "reprocess of a landed REST page: they keep the page's URL" 1 \
    "$(q shop "SELECT count(DISTINCT _source_url) FROM bronze.items WHERE _batch_id = (SELECT max(_batch_id) FROM bronze.items)")"

done_testing
