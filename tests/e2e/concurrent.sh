#!/bin/sh
# Two `smelt run` on the same project at once: nothing is lost or loaded
# twice. Expected figures are hand counts over the raw files.
. "$(dirname "$0")/lib.sh"
P="$WORK/p"
rows=6000; [ "$SAN" = 1 ] && rows=2000
"$SMELT" init "$P" --rows $rows --days 6 >/dev/null
"$SMELT" -C "$P" run >"$WORK/a.out" 2>&1 &
a=$!
"$SMELT" -C "$P" run >"$WORK/b.out" 2>&1 &
b=$!
wait $a; ra=$?
wait $b; rb=$?
check_eq "both runs succeed" "0 0" "$ra $rb"
files=$(ls "$P"/incoming/orders/*.csv.gz | wc -l | tr -d ' ')
check_eq "each file landed once" "$files" \
    "$(sqlite3 "$P/.smelt/state.db" "SELECT count(*) FROM landed_files WHERE source = 'orders' AND status = 'landed'")"
check_eq "one landed copy per file" "$files" "$(find "$P/lake/landing/orders" -name 'orders_*.csv.gz' | wc -l | tr -d ' ')"
lines=0
for f in "$P"/incoming/orders/*.csv.gz; do
    gzip -t "$f" 2>/dev/null || continue
    lines=$((lines + $(zcat "$f" | tail -n +2 | wc -l)))
done
got=$(smelt_q "$P" "SELECT (SELECT count(*) FROM bronze.orders) + (SELECT count(DISTINCT (_source_file, line)) FROM quarantine.orders WHERE line IS NOT NULL)" | tail -1)
check_eq "bronze + quarantined lines = lines of the readable files" "$lines" "$got"
check_eq "bronze was committed once (one version)" "0" \
    "$("$SMELT" -C "$P" history bronze.orders --format csv | tail -1 | cut -d, -f1)"
done_testing
