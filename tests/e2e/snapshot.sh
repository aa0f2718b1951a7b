#!/bin/sh
# End to end: materialized: snapshot (SCD type 2). The example project's
# silver.customers_history (strategy timestamp, hard_deletes invalidate) and
# a stores_history model added here (strategy check on the latest stores
# file, so a store can disappear). Expected versions are hand counts of the
# small files written below.
. "$(dirname "$0")/lib.sh"

P="$WORK/shop"
q1() { smelt_q "$P" "$1" | tail -1 | tr -d '"'; } # one value
"$SMELT" init "$P" --rows 2000 --days 3 > /dev/null 2>&1
cat > "$P/models/silver/stores_history.sql" <<'SQL'
-- the stores as the latest stores file lists them
SELECT store_id, name, city, region
FROM bronze.stores
WHERE _source_file = (SELECT max(_source_file) FROM bronze.stores)
SQL
cat > "$P/models/silver/stores_history.yml" <<'YML'
materialized: snapshot
unique_key: store_id
strategy: check
check_cols: [city, region]
hard_deletes: invalidate
YML
"$SMELT" -C "$P" run --format csv > "$WORK/r1.out" 2>&1
check_eq "first run exits 0" 0 $?
ncust=$(duck "SELECT count(DISTINCT customer_id) FROM read_json('$P/incoming/customers/*.ndjson') WHERE customer_id IS NOT NULL" | tail -1)
check_eq "first run: one current version per customer" "$ncust,$ncust,0" \
    "$(q1 "SELECT count(*), count(*) FILTER (WHERE is_current), count(valid_to) FROM silver.customers_history")"
check_eq "first run: valid_from = updated_at" "0" \
    "$(q1 "SELECT count(*) FROM silver.customers_history WHERE valid_from IS DISTINCT FROM updated_at")"
check_eq "first run: 10 stores, all current" "10,10" \
    "$(q1 "SELECT count(*), count(*) FILTER (WHERE is_current) FROM silver.stores_history")"

# customers: 1 moves (newer updated_at), 2 sends a stale record (older), a new one
cat > "$P/incoming/customers/customers_2.ndjson" <<'EOF2'
{"customer_id":1,"name":"Tara Johnson","email":"tara@example.com","city":"Austin","signup_date":"2022-06-23","updated_at":"2030-01-01 00:00:00"}
{"customer_id":2,"name":"Farid Johnson","email":"old@example.com","city":"Nowhere","signup_date":"2025-02-15","updated_at":"2001-01-01 00:00:00"}
{"customer_id":999001,"name":"New Person","email":"new@example.com","city":"Reno","signup_date":"2029-12-31","updated_at":"2029-12-31 10:00:00"}
EOF2
# stores: 3 changes region (a check column), 4 changes only its name (not
# checked), 10 is gone, 11 is new
{
    echo "store_id,name,city,region"
    sed -n '2,10p' "$P/incoming/stores/stores.csv" |
        sed -e 's/^3,\(.*\),West$/3,\1,Pacific/' -e 's/^4,[^,]*,/4,Denver Renamed,/'
    echo "11,Reno Midtown,Reno,West"
} > "$P/incoming/stores/stores_2.csv"
"$SMELT" -C "$P" run --format csv > "$WORK/r2.out" 2>&1
check_eq "second run exits 0" 0 $?
check_eq "customers: one more current customer, one closed version" "$((ncust + 2)),$((ncust + 1)),1" \
    "$(q1 "SELECT count(*), count(*) FILTER (WHERE is_current), count(valid_to) FROM silver.customers_history")"
check_eq "customer 1: the old version closed at the new updated_at, the new one current" \
    "Dallas,2030-01-01 00:00:00,false|Austin,,true" \
    "$(q1 "SELECT string_agg(concat_ws(',', city, coalesce(CAST(valid_to AS VARCHAR), ''), CAST(is_current AS VARCHAR)), '|' ORDER BY valid_from) FROM silver.customers_history WHERE customer_id = 1")"
check_eq "customer 2: a stale record does not make a version" "1" \
    "$(q1 "SELECT count(*) FROM silver.customers_history WHERE customer_id = 2")"
check_eq "stores: 3 has two versions (region changed), 4 one (name not checked)" "3:2,4:1" \
    "$(q1 "SELECT string_agg(store_id || ':' || n, ',' ORDER BY store_id) FROM (SELECT store_id, count(*) AS n FROM silver.stores_history WHERE store_id IN (3, 4) GROUP BY 1)")"
check_eq "stores: 10 is gone: its version closed, none current" "1,0,1" \
    "$(q1 "SELECT count(*), count(*) FILTER (WHERE is_current), count(valid_to) FROM silver.stores_history WHERE store_id = 10")"
check_eq "stores: 11 new and current; 10 current stores in all" "1,10" \
    "$(q1 "SELECT count(*) FILTER (WHERE store_id = 11 AND is_current), count(*) FILTER (WHERE is_current) FROM silver.stores_history")"
check_eq "stores: every closed version has valid_to >= valid_from" "0" \
    "$(q1 "SELECT count(*) FROM silver.stores_history WHERE valid_to < valid_from")"

# a rerun with nothing new, and --full-refresh, keep the history
before=$(q1 "SELECT count(*) FROM silver.stores_history")
"$SMELT" -C "$P" run --full-refresh --format csv > "$WORK/r3.out" 2>&1
check_eq "--full-refresh exits 0" 0 $?
check_eq "--full-refresh keeps a snapshot's history" "$before" \
    "$(q1 "SELECT count(*) FROM silver.stores_history")"

# store 10 comes back: a new current version
cp "$P/incoming/stores/stores.csv" "$P/incoming/stores/stores_3.csv"
echo "11,Reno Midtown,Reno,West" >> "$P/incoming/stores/stores_3.csv"
"$SMELT" -C "$P" run --format csv > "$WORK/r4.out" 2>&1
check_eq "store 10 back: two versions, one current; store 3 back to West: 3 versions" "2,1|3" \
    "$(q1 "SELECT (SELECT count(*) || ',' || count(*) FILTER (WHERE is_current) FROM silver.stores_history WHERE store_id = 10) || '|' || (SELECT count(*) FROM silver.stores_history WHERE store_id = 3)")"

# configuration errors
printf 'materialized: snapshot\n' > "$P/models/silver/stores_history.yml"
out=$("$SMELT" -C "$P" validate 2>&1)
check_eq "snapshot without unique_key: exit 2" 2 $?
check_contains "snapshot without unique_key: file:line and what to add" "models/silver/stores_history.yml:1: a snapshot needs 'unique_key'" "$out"
printf 'materialized: snapshot\nunique_key: store_id\nstrategy: check\n' > "$P/models/silver/stores_history.yml"
out=$("$SMELT" -C "$P" validate 2>&1)
check_contains "strategy check without check_cols: names the key" "stores_history.yml:3: snapshot strategy 'check' needs 'check_cols'" "$out"

done_testing
