#!/bin/sh
# End to end: incremental models (silver.orders merges on its line key,
# gold.daily_sales replaces the day partitions that changed). The property:
# for random sequences of daily files with late updates, stale re-sends and
# duplicates, after every run the incremental tables equal a full refresh of
# a copy of the project, row for row. Also: a day with new orders only
# rewrites no existing file; the consumed input versions are in state.db;
# a model commit carries its txn; a definition change rebuilds in full.
. "$(dirname "$0")/lib.sh"

if [ "$SAN" = 1 ]; then ROWS=2000 DAYS=5 SEEDS="1" ROUNDS=3; else ROWS=8000 DAYS=8 SEEDS="1 2 3" ROUNDS=4; fi
HERE=$(cd "$(dirname "$0")" && pwd)
TABLES="silver.orders gold.daily_sales silver.customers gold.customer_lifetime_value gold.product_performance"

# note of a task in a CSV run summary
note_of() { grep "^$2," "$1" | cut -d, -f7- | tr -d '"'; }
day_after() { python3 -c "import datetime,sys; print(datetime.date.fromisoformat(sys.argv[1]) + datetime.timedelta(days=int(sys.argv[2])))" "$1" "$2"; }

compare_full() { # $1 = project, $2 = label
    rm -rf "$WORK/full"
    cp -a "$1" "$WORK/full"
    "$SMELT" -C "$WORK/full" run --full-refresh --format csv > "$WORK/full.out" 2>&1
    for t in $TABLES; do
        smelt_q "$1" "SELECT * FROM $t ORDER BY ALL" > "$WORK/inc.csv"
        smelt_q "$WORK/full" "SELECT * FROM $t ORDER BY ALL" > "$WORK/ref.csv"
        check_files_eq "$2: $t == full refresh ($(($(wc -l < "$WORK/ref.csv") - 1)) rows)" "$WORK/ref.csv" "$WORK/inc.csv"
    done
}

incremental_runs=0 runs=0
for seed in $SEEDS; do
    P="$WORK/shop$seed"
    "$SMELT" init "$P" --rows "$ROWS" --days "$DAYS" --seed "$seed" > /dev/null 2>&1
    "$SMELT" -C "$P" run --format csv > "$WORK/r0.out" 2>&1
    check_eq "seed $seed: first run exits 0" 0 $?
    last=$(ls "$P/incoming/orders" | sed -n 's/^orders_\(.*\)\.csv\.gz$/\1/p' | sort | tail -1)
    r=1
    while [ $r -le "$ROUNDS" ]; do
        day=$(day_after "$last" $r)
        # late lines from any day, or from the last few days; sometimes two files at once
        python3 "$HERE/late_day.py" "$P/incoming/orders" $((seed * 100 + r)) "$day" $((r * 15)) $(((seed + r) % 3 * 2))
        if [ $((seed + r)) -eq 4 ]; then
            r=$((r + 1))
            python3 "$HERE/late_day.py" "$P/incoming/orders" $((seed * 100 + r)) "$(day_after "$last" $r)" 30
        fi
        "$SMELT" -C "$P" run --format csv > "$WORK/r.out" 2>&1
        check_eq "seed $seed round $r: run exits 0" 0 $?
        runs=$((runs + 1))
        case "$(note_of "$WORK/r.out" silver.orders)" in *"full rebuild"*) ;; *) incremental_runs=$((incremental_runs + 1)) ;; esac
        compare_full "$P" "seed $seed round $r"
        r=$((r + 1))
    done
done
check_eq "the runs above merged incrementally (none fell back to a full rebuild)" "$runs" "$incremental_runs"

# ------------------------------------------- a day of new orders only
P="$WORK/shop1"
DB="$P/.smelt/state.db"
nfiles_s=$(smelt_q "$P" "SELECT count(*) AS n FROM (SELECT DISTINCT order_date FROM silver.orders)" | tail -1)
day=$(day_after "$(ls "$P/incoming/orders" | sed -n 's/^orders_\(.*\)\.csv\.gz$/\1/p' | sort | tail -1)" 1)
python3 "$HERE/late_day.py" "$P/incoming/orders" 999 "$day" 0
"$SMELT" -C "$P" run --format csv > "$WORK/new.out" 2>&1
check_contains "new orders only: silver.orders rewrites no existing file" "0 of " "$(note_of "$WORK/new.out" silver.orders)"
check_contains "new orders only: gold.daily_sales replaces no existing day (1 new day)" "1 key changed: 0 of $nfiles_s files replaced" "$(note_of "$WORK/new.out" gold.daily_sales)"
compare_full "$P" "new orders only"

# ------------------------------------------- a few late updates of the last day
# late lines whose order_ts is on the last day before $day2 only: the merge
# may rewrite that day's files and must leave every other day's alone
day2=$(day_after "$day" 1)
python3 "$HERE/late_day.py" "$P/incoming/orders" 998 "$day2" 5 1
nparts=$(smelt_q "$P" "SELECT count(DISTINCT order_date) FROM silver.orders" | tail -1)
"$SMELT" -C "$P" run --format csv > "$WORK/few.out" 2>&1
rewritten=$(note_of "$WORK/few.out" silver.orders | sed -n 's/.*: \([0-9]*\) of \([0-9]*\) files rewritten.*/\1 \2/p')
check_eq "late updates of one day: at most 2 files of silver.orders rewritten (of one per day, $nparts days)" \
    "yes" "$(echo "$rewritten" | awk -v n="$nparts" '{ print ($1 >= 1 && $1 <= 2 && $2 >= n) ? "yes" : "no: " $0 }')"
compare_full "$P" "late updates of one day"

# ------------------------------------------- state.db and the Delta log
v_bronze=$(ls "$P/lake/bronze/orders/_delta_log" | grep -c '\.json$')
check_eq "state.db: silver.orders consumed bronze.orders at its latest version" \
    "$((v_bronze - 1))" "$(sqlite3 "$DB" "SELECT version FROM model_inputs WHERE model = 'silver.orders' AND input = 'bronze.orders'")"
v_silver=$(ls "$P/lake/silver/orders/_delta_log" | grep -c '\.json$')
check_eq "state.db: silver.orders' record names its latest Delta version" \
    "$((v_silver - 1))" "$(sqlite3 "$DB" "SELECT version FROM models WHERE model = 'silver.orders'")"
last_commit=$(ls "$P/lake/silver/orders/_delta_log/"*.json | sort | tail -1)
run_id=$(sqlite3 "$DB" "SELECT max(id) FROM runs")
check_eq "the last silver.orders commit carries txn smelt:silver.orders at the run's id" \
    "smelt:silver.orders $run_id" \
    "$(python3 -c "import json,sys; [print(a['txn']['appId'], a['txn']['version']) for a in map(json.loads, open(sys.argv[1])) if 'txn' in a]" "$last_commit")"
check_eq "the last silver.orders commit is a MERGE" "MERGE" \
    "$(python3 -c "import json,sys; [print(a['commitInfo']['operation']) for a in map(json.loads, open(sys.argv[1])) if 'commitInfo' in a]" "$last_commit")"

# ------------------------------------------- crash between the commit and state.db
sqlite3 "$DB" "UPDATE models SET version = version - 1 WHERE model = 'silver.orders'; UPDATE model_inputs SET version = 0 WHERE model = 'silver.orders'"
"$SMELT" -C "$P" run --format csv > "$WORK/heal.out" 2>&1
check_eq "state.db behind the Delta log: healed from the commit, nothing to do" "up to date" "$(note_of "$WORK/heal.out" silver.orders)"

# ------------------------------------------- a definition change rebuilds in full
sed -i 's/AND quantity > 0/AND quantity > 0 AND true/' "$P/models/silver/orders.sql"
"$SMELT" -C "$P" run --format csv > "$WORK/def.out" 2>&1
check_contains "definition changed: silver.orders rebuilt in full" "full rebuild: the definition changed" "$(note_of "$WORK/def.out" silver.orders)"
compare_full "$P" "after a definition change"

done_testing
