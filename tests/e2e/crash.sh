#!/bin/sh
# kill -9 in the middle of `smelt run`, then rerun: every incoming file is
# landed exactly once and every table ends up with the same contents as in a
# run that was never interrupted. The kill points are spread over the time a
# clean run takes on this machine (so they also fit the slower ASan build).
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1

if [ "$SAN" = 1 ]; then ROWS=8000 DAYS=6; else ROWS=20000 DAYS=10; fi
now_ms() { echo $(($(date +%s%N) / 1000000)); }

if ! "$SMELT" init base --rows $ROWS --days $DAYS > init.out 2>&1; then
    not_ok "smelt init base" "$(cat init.out)"
    done_testing
    exit 1
fi
NFILES=$(find base/incoming -type f | wc -l | tr -d ' ')
(cd base/incoming && find . -type f -exec sha256sum {} + | cut -d' ' -f1 | LC_ALL=C sort) > incoming.sha

# --- the reference: an uninterrupted run ------------------------------------------
cp -R base clean
t0=$(now_ms)
"$SMELT" -C clean run --format csv > clean.out 2> clean.err
rc=$?
t1=$(now_ms)
T=$((t1 - t0))
check_eq "clean run exits 0 (${T} ms)" 0 "$rc"
# a second timing run (the first one may pay for cold caches): T is the shorter
cp -R base timing
t0=$(now_ms)
"$SMELT" -C timing run --format csv > /dev/null 2>&1
t1=$(now_ms)
[ $((t1 - t0)) -lt $T ] && T=$((t1 - t0))
rm -rf timing
[ $T -lt 100 ] && T=100
echo "# a run takes about $T ms: kill points are spread over that"

# tables of every zone, from the clean lake's folders
TABLES=$(cd clean/lake && for z in bronze silver gold quarantine; do
    for t in "$z"/*/_delta_log; do [ -d "$t" ] && echo "$z.$(basename "$(dirname "$t")")"; done
done)
NT=$(echo "$TABLES" | wc -l | tr -d ' ')
check_eq "clean run made 18 tables (5 bronze, 5 silver, 3 gold, 5 quarantine)" 18 "$NT"

# The comparison: every column but the per-run ones (_source_file holds the
# batch id in its path: compare its file name only), each row as one text line
# prefixed with its table, all tables in one query.
all=""
for t in $TABLES; do
    cols=$(smelt_q clean "SELECT column_name FROM (DESCRIBE $t)" | tail -n +2)
    sel=""
    for c in $cols; do
        case $c in
        _batch_id | _ingested_at | _quarantined_at) continue ;;
        _source_file) e="regexp_replace(_source_file, '^.*/', '') AS _source_file" ;;
        *) e="\"$c\"" ;;
        esac
        sel="${sel:+$sel, }$e"
    done
    all="${all:+$all UNION ALL }SELECT '$t' AS tbl, replace(replace(CAST(x AS VARCHAR), chr(10), '\\n'), chr(13), '\\r') AS r FROM (SELECT $sel FROM $t) AS x"
done
ALL_SQL="SELECT tbl, r FROM ($all) ORDER BY tbl, r"
smelt_q clean "$ALL_SQL" > ref.csv 2> ref.err
check_eq "reference dump of every table" "" "$(cat ref.err)"
for t in $TABLES; do grep "^$t," ref.csv > "ref.$t"; done
rows=$(cat ref.bronze.orders ref.silver.orders ref.gold.daily_sales ref.quarantine.orders 2> /dev/null | wc -l)
check_eq "reference has rows in bronze/silver/gold/quarantine orders" 1 "$([ "$rows" -gt 100 ] && echo 1 || echo 0)"
check_eq "reference covers every row of every table" "$(smelt_q clean "SELECT $(for t in $TABLES; do printf '(SELECT count(*) FROM %s) + ' "$t"; done) 0" | tail -1)" \
    "$(($(wc -l < ref.csv) - 1))"

# progress DIR: what an interrupted run had got done
progress() {
    l=$(sqlite3 "$1/.smelt/state.db" "SELECT count(*) FROM landed_files WHERE status = 'landed'" 2> /dev/null)
    n=$(find "$1/lake" -path '*/_delta_log/*.json' 2> /dev/null | wc -l | tr -d ' ')
    echo "${l:-0} of $NFILES files landed, $n table commits"
}

# verify NAME DIR: rerun until exit 0 (at most 3 times), then compare with clean
verify() {
    name=$1 dir=$2
    i=0
    rc=1
    : > rerun.err
    while [ $i -lt 3 ] && [ $rc -ne 0 ]; do
        i=$((i + 1))
        "$SMELT" -C "$dir" run --format csv > rerun.out 2>> rerun.err
        rc=$?
    done
    if [ $rc -eq 0 ]; then ok "$name: rerun exits 0 (after $i run(s))"; else
        not_ok "$name: rerun exits 0" "3 reruns failed; stderr:" "$(head -c 1500 rerun.err)"; fi

    got=$(sqlite3 "$dir/.smelt/state.db" \
        "SELECT count(*) || ' rows, ' || count(DISTINCT orig_path) || ' files, ' || sum(status = 'landed') || ' landed' FROM landed_files" 2>&1)
    check_eq "$name: landed_files has one 'landed' row per file" "$NFILES rows, $NFILES files, $NFILES landed" "$got"

    missing=""
    for p in $(sqlite3 "$dir/.smelt/state.db" "SELECT landing_path FROM landed_files"); do
        [ -f "$p" ] && [ -f "$(dirname "$p")/_manifest.json" ] || missing="$missing $p"
    done
    check_eq "$name: every landed file is in landing with its _manifest.json" "" "$missing"

    (cd "$dir/lake/landing" && find . -type f ! -name _manifest.json ! -path '*/_incoming/*' -exec sha256sum {} +) > landing.list
    cut -d' ' -f1 landing.list | LC_ALL=C sort > landing.sha
    if cmp -s incoming.sha landing.sha; then ok "$name: lake/landing holds one copy of each incoming file and nothing else but manifests"; else
        extra=$(diff incoming.sha landing.sha | sed -n 's/^[<>] //p' | while read -r h; do
            grep "^$h" landing.list || echo "$h (an incoming file missing from landing)"; done)
        not_ok "$name: lake/landing holds one copy of each incoming file and nothing else but manifests" "unmatched:" "$extra"
    fi

    stray=$(cd "$dir/lake/landing" && find . -path '*/_incoming/*' -type f | LC_ALL=C sort | tr '\n' ' ')
    check_eq "$name: no leftover temporary copies in lake/landing/*/_incoming" "" "$stray"

    smelt_q "$dir" "$ALL_SQL" > got.csv 2> got.err
    for t in $TABLES; do
        grep "^$t," got.csv > "got.$t"
        if cmp -s "ref.$t" "got.$t"; then ok "$name: $t equals the clean run's"; else
            not_ok "$name: $t equals the clean run's" "$(wc -l < "ref.$t") rows in the clean run, $(wc -l < "got.$t") here" \
                "$(diff "ref.$t" "got.$t" | head -6)" "$(head -c 600 got.err)"; fi
    done

    (cd "$dir" && find lake .smelt/state.db -type f -exec sha256sum {} + | LC_ALL=C sort -k2) > before.sha
    "$SMELT" -C "$dir" run --format table > final.out 2> final.err
    rc=$?
    check_eq "$name: a final run exits 0" 0 "$rc"
    check_contains "$name: a final run has nothing to do" "nothing to do" "$(cat final.out)"
    (cd "$dir" && find lake -type f -exec sha256sum {} + | LC_ALL=C sort -k2) > after.sha
    grep -v ' \.smelt/state\.db$' before.sha > before_lake.sha
    check_files_eq "$name: a final run changes nothing in lake/" before_lake.sha after.sha
}

# --- kill points: percent of the clean run's duration, each in a fresh copy ---------
interrupted=0
tried=0
for pct in 5 12 18 25 33 45 60 80; do
    delay=$(awk -v t=$T -v p=$pct 'BEGIN { printf "%.3f", t * p / 100000 }')
    d=k$pct
    cp -R base "$d"
    "$SMELT" -C "$d" run --format csv > killed.out 2> killed.err &
    pid=$!
    sleep "$delay"
    kill -9 $pid 2> /dev/null
    { wait $pid; } 2> /dev/null
    rc=$?
    tried=$((tried + 1))
    if [ $rc -eq 137 ]; then
        interrupted=$((interrupted + 1))
        echo "# kill at ${delay}s ($pct% of ${T} ms): interrupted the run, $(progress "$d")"
    else
        echo "# kill at ${delay}s ($pct% of ${T} ms): run had already ended with status $rc"
    fi
    check_eq "kill at $pct%: the run was killed or had finished with status 0" 1 \
        "$([ $rc -eq 137 ] || [ $rc -eq 0 ] && echo 1 || echo "status $rc: $(head -c 400 killed.err)")"
    verify "kill at $pct%" "$d"
    rm -rf "$d"
done
echo "# $interrupted of $tried kill points interrupted a run"
check_eq "at least 3 kill points interrupted a run before it finished" 1 "$([ $interrupted -ge 3 ] && echo 1 || echo 0)"

# --- cumulative: several runs of one copy killed one after the other -----------------
cp -R base cum
n=0
for pct in 15 30 50 70; do
    delay=$(awk -v t=$T -v p=$pct 'BEGIN { printf "%.3f", t * p / 100000 }')
    "$SMELT" -C cum run --format csv > killed.out 2> killed.err &
    pid=$!
    sleep "$delay"
    kill -9 $pid 2> /dev/null
    { wait $pid; } 2> /dev/null
    rc=$?
    if [ $rc -eq 137 ]; then n=$((n + 1)); fi
    echo "# cumulative kill at ${delay}s: status $rc, $(progress cum)"
    check_eq "cumulative kill at $pct%: the run was killed or had finished with status 0" 1 \
        "$([ $rc -eq 137 ] || [ $rc -eq 0 ] && echo 1 || echo "status $rc: $(head -c 400 killed.err)")"
done
echo "# cumulative: $n of 4 runs interrupted"
verify "after 4 successive kills" cum

done_testing
