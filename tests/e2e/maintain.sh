#!/bin/sh
# Table maintenance: history, restore, optimize, vacuum, time travel, and
# checkpoints, on a small project. Expected contents are counted from the
# generated raw files (zcat) or from earlier versions read with --as-of.
. "$(dirname "$0")/lib.sh"
P="$WORK/p"
"$SMELT" init "$P" --rows 2000 --days 4 >/dev/null
"$SMELT" -C "$P" run >/dev/null 2>&1
day_rows() { zcat "$1" | tail -n +2 | wc -l | tr -d ' '; }

# add three more days, one run each: bronze.orders gets versions 1..3
for d in 5 6 7; do
    src="$P/incoming/orders/orders_2026-01-01.csv.gz"
    zcat "$src" | sed "s/2026-01-01/2026-01-0$d/g" | gzip > "$P/incoming/orders/orders_2026-01-0$d.csv.gz"
    "$SMELT" -C "$P" run >/dev/null 2>&1
done
check_eq "history lists every version" "0 1 2 3" \
    "$("$SMELT" -C "$P" history bronze.orders --format csv | tail -n +2 | cut -d, -f1 | tr '\n' ' ' | sed 's/ $//')"
v0=$(smelt_q "$P" "SELECT count(*) FROM bronze.orders" | tail -1)
f5="$P/incoming/orders/orders_2026-01-05.csv.gz"
rej5=$(smelt_q "$P" "SELECT count(DISTINCT line) FROM quarantine.orders WHERE _source_file LIKE '%orders_2026-01-05.csv.gz' AND line IS NOT NULL" | tail -1)
added=$(( $(day_rows "$f5") - rej5 ))
check_eq "history rows_added of version 1 = lines of the new file" "$added" \
    "$("$SMELT" -C "$P" history bronze.orders --format csv | awk -F, '$1==1 {print $6}')"

before=$(smelt_q "$P" "SELECT count(*), sum(quantity) FROM bronze.orders" | tail -1)
files_before=$(ls "$P"/lake/bronze/orders/*.parquet | wc -l)
"$SMELT" -C "$P" optimize bronze.orders >"$WORK/opt" 2>&1
check_contains "optimize compacts" "compacted 4 files into 1" "$(cat "$WORK/opt")"
check_eq "optimize keeps contents" "$before" "$(smelt_q "$P" "SELECT count(*), sum(quantity) FROM bronze.orders" | tail -1)"
check_contains "optimize commit has dataChange false" '"dataChange":false' \
    "$(cat "$P/lake/bronze/orders/_delta_log/00000000000000000004.json")"

v1=$("$SMELT" -C "$P" query --format csv --as-of 1 "SELECT count(*) FROM bronze.orders" | tail -1)
"$SMELT" -C "$P" restore bronze.orders 1 >/dev/null
check_eq "restore brings version 1 back" "$v1" "$(smelt_q "$P" "SELECT count(*) FROM bronze.orders" | tail -1)"
check_eq "restore wrote a new version" "5" "$("$SMELT" -C "$P" history bronze.orders --format csv | tail -1 | cut -d, -f1)"

"$SMELT" -C "$P" vacuum bronze.orders --retain 1 >/dev/null 2>"$WORK/err"
check_eq "vacuum under 7 days refused without --force" "2" "$?"
"$SMELT" -C "$P" vacuum bronze.orders --retain 0 --force >"$WORK/vac" 2>&1
live=$(python3 - "$P/lake/bronze/orders" <<'PY'
import json, os, sys, urllib.parse
root = sys.argv[1]
log = os.path.join(root, "_delta_log")
live = set()
for name in sorted(f for f in os.listdir(log) if f.endswith(".json") and len(f) == 25):
    for line in open(os.path.join(log, name)):
        a = json.loads(line)
        if "add" in a: live.add(urllib.parse.unquote(a["add"]["path"]))
        if "remove" in a: live.discard(urllib.parse.unquote(a["remove"]["path"]))
on_disk = set(f for f in os.listdir(root) if f.endswith(".parquet"))
print("ok" if on_disk == live else "disk=%s live=%s" % (sorted(on_disk), sorted(live)))
PY
)
check_eq "vacuum --retain 0 leaves exactly the live files" "ok" "$live"
check_eq "table still reads after vacuum" "$v1" "$(smelt_q "$P" "SELECT count(*) FROM bronze.orders" | tail -1)"
"$SMELT" -C "$P" query --as-of 2 "SELECT count(*) FROM bronze.orders" >/dev/null 2>&1
check_eq "time travel to a vacuumed version fails (files gone)" "1" "$?"

# checkpoints: 12 appends to one table produce 00..10.checkpoint.parquet
for i in 8 9; do
    zcat "$P/incoming/orders/orders_2026-01-01.csv.gz" | sed "s/2026-01-01/2026-01-0$i/g" | gzip > "$P/incoming/orders/orders_2026-01-0$i.csv.gz"
    "$SMELT" -C "$P" run >/dev/null 2>&1
done
for i in 10 11 12 13 14; do
    zcat "$P/incoming/orders/orders_2026-01-01.csv.gz" | sed "s/2026-01-01/2026-01-$i/g" | gzip > "$P/incoming/orders/orders_2026-01-$i.csv.gz"
    "$SMELT" -C "$P" run >/dev/null 2>&1
done
ls "$P/lake/bronze/orders/_delta_log/" > "$WORK/log"
check_contains "checkpoint written at version 10" "00000000000000000010.checkpoint.parquet" "$(cat "$WORK/log")"
check_contains "_last_checkpoint points at it" '"version":10' "$(cat "$P/lake/bronze/orders/_delta_log/_last_checkpoint")"
# the checkpoint is readable by DuckDB directly and lists the live adds
n_add=$(duck "SELECT count(*) FROM read_parquet('$P/lake/bronze/orders/_delta_log/00000000000000000010.checkpoint.parquet') WHERE \"add\" IS NOT NULL" | tail -1)
live10=$(python3 - "$P/lake/bronze/orders/_delta_log" <<'PY'
import json, sys
live = set()
for v in range(11):
    for line in open("%s/%020d.json" % (sys.argv[1], v)):
        a = json.loads(line)
        if "add" in a: live.add(a["add"]["path"])
        if "remove" in a: live.discard(a["remove"]["path"])
print(len(live))
PY
)
check_eq "checkpoint holds one add per live file of version 10" "$live10" "$n_add"
done_testing
