#!/usr/bin/env bash
# bench/merge.sh — time an incremental MERGE of a few rows into a large
# table against a full rebuild and against DuckDB rewriting the whole table
# by hand. See bench/README.md.
#
#   bench/merge.sh                      (ROWS=10000000 DAYS=120; `make bench-merge`)
#   ROWS=1000000 REPEAT=1 bench/merge.sh    a quicker run
#
# Setup (not timed): DuckDB writes ROWS events (id, day, customer_id, status,
# amount, updated_at) as one Parquet file per day over DAYS days, ids in day
# order; `smelt run` loads them into bronze.events and builds silver.events
# (materialized: incremental, incremental_strategy: merge, unique_key: id,
# partition_by: day): one data file per day. The project as it is then is
# the starting point of every timed step. The upsert is one more Parquet file
# of 10 rows: 7 updates of existing ids on 3 days (2, 3 and 2 ids) and 3 new
# ids on a new day.
#
# Steps, each from a fresh copy of the starting point, run in turns REPEAT
# times, under /usr/bin/time -f '%e %M' (wall seconds, peak RSS):
#   m  the upsert file copied into the source folder, `smelt run`: lands it,
#      appends 10 rows to bronze, merges them into silver.events
#   f  the same with `smelt run --full-refresh`: silver.events rebuilt whole
#   n  build/duckq, the naive upsert by hand: read every file of the table,
#      drop the upserted ids, add the upsert rows, write the whole table again
#      (partitioned by day), with the same memory_limit and threads
#
# Environment: ROWS, DAYS, REPEAT (default 3), MEMORY_LIMIT (smelt.yml's
# defaults.memory_limit and DuckDB's, default 256MB), THREADS (default 2),
# OUT (default bench/out/merge_rROWS_dDAYS; deleted and recreated).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROWS=${ROWS:-10000000}
DAYS=${DAYS:-120}
REPEAT=${REPEAT:-3}
MEMORY_LIMIT=${MEMORY_LIMIT:-256MB}
THREADS=${THREADS:-2}
OUT=${OUT:-$ROOT/bench/out/merge_r${ROWS}_d${DAYS}}

# --- preconditions ----------------------------------------------------------
[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive whole number, got '$ROWS'"
[[ $DAYS =~ ^[1-9][0-9]*$ ]] || die "DAYS must be a positive whole number, got '$DAYS'"
((DAYS >= 100 && ROWS >= 100 * DAYS)) || die "need DAYS >= 100 and ROWS >= 100 * DAYS (the upserted ids sit on days 10, 50 and 90 of 120)"
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive whole number, got '$REPEAT'"
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive whole number, got '$THREADS'"
[[ $MEMORY_LIMIT =~ ^[0-9]+(KB|MB|GB)$ ]] || die "MEMORY_LIMIT must look like 256MB, got '$MEMORY_LIMIT'"
need_binaries
case $OUT in
*"'"*) die "OUT must not contain a single quote: '$OUT'" ;;
esac
for tool in python3 md5sum awk; do
    command -v "$tool" >/dev/null || die "'$tool' is needed"
done

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
rm -rf "$OUT"
pin_binaries
WORK=$OUT/project # where every smelt run happens (landing keys files by absolute path)
BASE=$OUT/base    # a copy of the starting point: project, lake and state
UPSERT=$OUT/events_upsert.parquet

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; } # bytes -> MB, one decimal
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
# MEMORY_LIMIT in KB
limit_kb() { awk -v m="$MEMORY_LIMIT" 'BEGIN { n = m + 0; u = substr(m, length(m) - 1);
    print n * (u == "GB" ? 1024 * 1024 : u == "MB" ? 1024 : 1) }'; }

# note of a task in smelt's csv summary of step NAME
note_of() { awk -F, -v t="$2" '$1 == t { s = $7; for (i = 8; i <= NF; i++) s = s "," $i; gsub(/"/, "", s); print s; exit }' "$LOGS/$1.out"; }

# live_files TABLE_DIR — the table's live data files, one absolute path a line,
# from its JSON commits (python, not smelt). Stops when a checkpoint exists.
live_files() {
    python3 - "$1" <<'EOF'
import glob, json, os, sys
from urllib.parse import unquote
t = sys.argv[1]
if glob.glob(os.path.join(t, '_delta_log', '*.checkpoint.parquet')):
    sys.exit('a checkpoint: this reader only replays JSON commits')
live = {}
for f in sorted(glob.glob(os.path.join(t, '_delta_log', '*.json'))):
    for line in open(f):
        a = json.loads(line)
        if 'add' in a: live[a['add']['path']] = a['add']['size']
        if 'remove' in a: live.pop(a['remove']['path'], None)
for p in sorted(live): print(os.path.join(t, unquote(p)))
EOF
}

# last_commit TABLE_DIR -> "files_removed bytes_removed files_added bytes_added"
last_commit() {
    python3 - "$1" <<'EOF'
import glob, json, os, sys
f = sorted(glob.glob(os.path.join(sys.argv[1], '_delta_log', '*.json')))[-1]
rm = [a['remove'] for a in map(json.loads, open(f)) if 'remove' in a]
ad = [a['add'] for a in map(json.loads, open(f)) if 'add' in a]
print(len(rm), sum(r.get('size', 0) for r in rm), len(ad), sum(a['size'] for a in ad))
EOF
}

sql_list() { # lines on stdin -> 'a', 'b', ...
    awk '{ printf "%s'\''%s'\''", (NR > 1 ? ", " : ""), $0 }'
}

# An order-independent fingerprint of a table given as Parquet files, by
# DuckDB alone: rows, sum of amount, xor of every row's hash.
FP_SQL="count(*) AS n, sum(amount) AS amount, bit_xor(hash(id, day, customer_id, status, amount, updated_at)) AS h"
fingerprint() { # FILE_LIST_SQL
    "$DUCKQ" "SELECT $FP_SQL FROM read_parquet([$1], hive_partitioning = true, hive_types = {'day': DATE})" | tail -n 1
}

echo "== smelt merge benchmark: ROWS=$ROWS DAYS=$DAYS REPEAT=$REPEAT MEMORY_LIMIT=$MEMORY_LIMIT THREADS=$THREADS"
echo "   output in $OUT"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "   machine: $(nproc) CPUs, load average $LOAD_BEFORE"

# --- 0. setup (not timed) -----------------------------------------------------
echo "-- 0. the project, ROWS rows in DAYS daily files, first smelt run (not timed) ..."
P=$WORK
mkdir -p "$P/sources" "$P/models/silver" "$P/incoming/events"
printf 'name: mergebench\ndefaults:\n  threads: %s\n  memory_limit: %s\n' "$THREADS" "$MEMORY_LIMIT" >"$P/smelt.yml"
printf 'kind: files\npath: incoming/events\nglob: "*.parquet"\nformat: parquet\n' >"$P/sources/events.yml"
cat >"$P/models/silver/events.sql" <<'EOF'
SELECT id, day, customer_id, status, amount, updated_at
FROM bronze.events
QUALIFY row_number() OVER (PARTITION BY id ORDER BY updated_at DESC) = 1
EOF
printf 'materialized: incremental\nincremental_strategy: merge\nunique_key: id\npartition_by: day\n' \
    >"$P/models/silver/events.yml"
# day = id * DAYS / ROWS: each day holds a contiguous range of ids
DAY_OF="DATE '2025-01-01' + CAST(id * $DAYS // $ROWS AS INTEGER)"
GEN="SELECT id, $DAY_OF AS day, (id * 7919) % 100000 AS customer_id,
    ['new', 'paid', 'shipped', 'done'][1 + id % 4] AS status,
    CAST((id % 100000) / 100.0 AS DECIMAL(12,2)) AS amount,
    TIMESTAMP '2025-01-01 00:00:00' + to_seconds(id * $DAYS * 86400 // $ROWS) AS updated_at
    FROM range($ROWS) t(id)"
"$DUCKQ" "SET partitioned_write_max_open_files = 100000" "SET threads = $THREADS" \
    "COPY ($GEN) TO '$OUT/gen' (FORMAT parquet, PARTITION_BY (day), WRITE_PARTITION_COLUMNS true)" \
    >"$LOGS/gen.out"
n=0
for d in "$OUT"/gen/day=*; do
    mv "$d"/data_0.parquet "$P/incoming/events/events_${d##*/day=}.parquet"
    n=$((n + 1))
done
rm -rf "$OUT/gen"
((n == DAYS)) || die "expected $DAYS daily files, made $n"
timed setup "$SMELT" -C "$P" run --format csv
check_summary setup
SETUP_S=$SECS SETUP_MB=$RSS_MB
echo "   first run: $SETUP_S s, $SETUP_MB MB (silver.events: $(note_of setup silver.events))"
mapfile -t BASE_FILES < <(live_files "$P/lake/silver/events")
NFILES=${#BASE_FILES[@]}
((NFILES == DAYS)) || die "silver.events has $NFILES data files, expected one per day ($DAYS)"
cp -a "$WORK" "$BASE"
mapfile -t BASE_FILES < <(live_files "$BASE/lake/silver/events")
BASE_SQL=$(printf '%s\n' "${BASE_FILES[@]}" | sql_list)
TABLE_MB=$(du -scm "${BASE_FILES[@]}" | tail -n 1 | cut -f1)
BASE_FP=$(fingerprint "$BASE_SQL")
[[ ${BASE_FP%%,*} == "$ROWS" ]] || die "silver.events has ${BASE_FP%%,*} rows, expected $ROWS"

# The upsert: 7 existing ids on days 10, 50 and 90 (of 120: 2, 3 and 2 ids;
# scaled to DAYS), 3 new ids after the last one, on a new day.
PER_DAY=$((ROWS / DAYS))
day_id() { echo $(((($1 * ROWS) + DAYS - 1) / DAYS + $2)); } # DAY'S first id + OFFSET
D1=$((DAYS * 10 / 120)) D2=$((DAYS * 50 / 120)) D3=$((DAYS * 90 / 120))
IDS="$(day_id $D1 0), $(day_id $D1 $((PER_DAY / 2))), $(day_id $D2 0), $(day_id $D2 $((PER_DAY / 3))),
    $(day_id $D2 $((PER_DAY - 2))), $(day_id $D3 1), $(day_id $D3 $((PER_DAY - 2))), $ROWS, $((ROWS + 1)), $((ROWS + 2))"
"$DUCKQ" "COPY (SELECT CAST(id AS BIGINT) AS id, CASE WHEN id < $ROWS THEN $DAY_OF ELSE DATE '2025-01-01' + $DAYS END AS day,
        CAST(424242 AS BIGINT) AS customer_id, 'upserted' AS status, CAST(12345.67 AS DECIMAL(12,2)) AS amount,
        TIMESTAMP '2025-12-31 00:00:00' AS updated_at
    FROM (SELECT unnest([$IDS]) AS id)) TO '$UPSERT' (FORMAT parquet)" >"$LOGS/upsert.out"
read -r U_ROWS U_DAYS U_OLD < <("$DUCKQ" "SELECT count(*), count(DISTINCT day) FILTER (id < $ROWS), count(*) FILTER (id < $ROWS)
    FROM read_parquet('$UPSERT')" | tail -n 1 | tr ',' ' ')
[[ "$U_ROWS $U_DAYS $U_OLD" == "10 3 7" ]] || die "the upsert should have 10 rows, 7 of them on 3 existing days: $U_ROWS $U_DAYS $U_OLD"
echo "   silver.events: $ROWS rows in $NFILES files ($TABLE_MB MB); upsert: 10 rows, 7 updates on 3 days, 3 new ids"

# the naive upsert by hand: the whole table in, the whole table out
NAIVE_SQL="COPY (SELECT * FROM read_parquet([$BASE_SQL], hive_partitioning = true, hive_types = {'day': DATE})
        WHERE id NOT IN (SELECT id FROM read_parquet('$UPSERT'))
    UNION ALL BY NAME SELECT * FROM read_parquet('$UPSERT'))
    TO '$WORK/naive' (FORMAT parquet, PARTITION_BY (day))"
echo "$NAIVE_SQL" >"$OUT/naive.sql"

fresh_copy() { # the starting point again, the upsert file in the source folder
    rm -rf "$WORK"
    cp -a "$BASE" "$WORK"
    cp "$UPSERT" "$WORK/incoming/events/"
}

# --- m, f, n: in turns, REPEAT times each --------------------------------------
M_T=() M_K=() F_T=() F_K=() N_T=() N_K=()
for ((r = 1; r <= REPEAT; r++)); do
    echo "-- round $r of $REPEAT"
    fresh_copy
    timed "m$r" "$SMELT" -C "$WORK" run --format csv
    check_summary "m$r"
    M_T+=("$SECS") M_K+=("$RSS_KB")
    printf '   %-48s %6s s %6s MB   %s\n' "(m) smelt run: merge" "$SECS" "$RSS_MB" "$(note_of "m$r" silver.events)"
    if ((r == 1)); then
        rm -rf "$OUT/merged"
        mv "$WORK" "$OUT/merged"
        fresh_copy
    fi
    timed "f$r" "$SMELT" -C "$WORK" run --full-refresh --format csv
    check_summary "f$r"
    F_T+=("$SECS") F_K+=("$RSS_KB")
    printf '   %-48s %6s s %6s MB   %s\n' "(f) smelt run --full-refresh" "$SECS" "$RSS_MB" "$(note_of "f$r" silver.events)"
    if ((r == 1)); then
        rm -rf "$OUT/full"
        mv "$WORK" "$OUT/full"
    fi
    rm -rf "$WORK"
    mkdir -p "$WORK"
    timed "n$r" env -C "$WORK" "$DUCKQ" "SET threads = $THREADS" "SET memory_limit = '$MEMORY_LIMIT'" \
        "SET partitioned_write_max_open_files = 1024" "$NAIVE_SQL"
    N_T+=("$SECS") N_K+=("$RSS_KB")
    printf '   %-48s %6s s %6s MB\n' "(n) DuckDB by hand: read all, rewrite all" "$SECS" "$RSS_MB"
    if ((r == 1)); then
        rm -rf "$OUT/naive"
        mv "$WORK/naive" "$OUT/naive"
    fi
done
rm -rf "$WORK"

# One more run of each, untimed, for the bytes it read through read(2)
# (/proc/PID/io rchar, taken after the exit, before the reap).
read_mb() { # LOG CMD...
    local log=$1
    shift
    python3 - "$@" >"$LOGS/$log.io" 2>"$LOGS/$log.io.err" <<'EOF'
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
io = dict(l.split(': ') for l in open('/proc/%d/io' % p.pid).read().splitlines())
sys.exit(p.wait() or print('%.1f' % (int(io['rchar']) / 1048576)))
EOF
    cat "$LOGS/$log.io"
}
fresh_copy
M_READ=$(read_mb m_io "$SMELT" -C "$WORK" run) || die "the merge run for its reads failed"
fresh_copy
F_READ=$(read_mb f_io "$SMELT" -C "$WORK" run --full-refresh) || die "the full refresh for its reads failed"
rm -rf "$WORK"
mkdir -p "$WORK"
N_READ=$(cd "$WORK" && read_mb n_io "$DUCKQ" "SET threads = $THREADS" "SET memory_limit = '$MEMORY_LIMIT'" \
    "SET partitioned_write_max_open_files = 1024" "$NAIVE_SQL") || die "the naive upsert for its reads failed"
rm -rf "$WORK"
BRONZE_MB=$(du -sm "$BASE/lake/bronze/events" | cut -f1)

# --- checks -----------------------------------------------------------------------
echo "-- checks ..."
NOTE=$(note_of m1 silver.events)
read -r KEYS REWRITTEN TOTAL < <(echo "$NOTE" | sed -n 's/^\([0-9]*\) keys changed: \([0-9]*\) of \([0-9]*\) files rewritten.*/\1 \2 \3/p')
[[ -n ${KEYS:-} ]] || die "(m) did not merge: silver.events' note is '$NOTE'"
[[ $KEYS == 10 ]] || die "(m) changed $KEYS keys, expected 10"
[[ $TOTAL == "$NFILES" ]] || die "(m) saw $TOTAL files, the table has $NFILES"
read -r RM_FILES RM_BYTES ADD_FILES ADD_BYTES < <(last_commit "$OUT/merged/lake/silver/events")
[[ $RM_FILES == "$REWRITTEN" ]] || die "the merge commit removes $RM_FILES files, its note says $REWRITTEN"
# each day's file holds a contiguous id range, so exactly the 3 days' files qualify
[[ $REWRITTEN == 3 ]] || die "the merge rewrote $REWRITTEN files; only the 3 days with updated ids hold them"
case $(note_of f1 silver.events) in *"full rebuild"*) ;; *) die "(f) did not rebuild in full: $(note_of f1 silver.events)" ;; esac

# merged == full refresh: md5 of the sorted CSV from smelt query, read by
# day ranges (one query for 10M rows would hold them all as text)
sorted_csv_md5() { # PROJECT
    local lo=0 step=$(((DAYS + 9) / 10)) total=0
    while ((lo <= DAYS)); do
        "$SMELT" -C "$1" query --format csv "SELECT * FROM silver.events
            WHERE day >= DATE '2025-01-01' + $lo AND day < DATE '2025-01-01' + $((lo + step)) ORDER BY id" |
            tail -n +2
        lo=$((lo + step))
    done | md5sum | cut -d' ' -f1
}
MD5_M=$(sorted_csv_md5 "$OUT/merged")
MD5_F=$(sorted_csv_md5 "$OUT/full")
[[ $MD5_M == "$MD5_F" ]] || die "the merged table differs from the full refresh: md5 $MD5_M vs $MD5_F"
echo "   merged == full refresh: md5 of the sorted CSV $MD5_M"
# ... and both equal the naive upsert by DuckDB, and what is expected:
# ROWS + 3 rows, amount up by the 7 updates' and 3 new rows' amounts
FP_M=$(fingerprint "$(live_files "$OUT/merged/lake/silver/events" | sql_list)")
FP_N=$(fingerprint "$(find "$OUT/naive" -name '*.parquet' | sort | sql_list)")
[[ $FP_M == "$FP_N" ]] || die "the merged table differs from DuckDB's naive upsert: $FP_M vs $FP_N"
WANT=$("$DUCKQ" "SELECT $ROWS + 3 AS n, (SELECT sum(amount) FROM read_parquet([$BASE_SQL]))
    - (SELECT sum(amount) FROM read_parquet([$BASE_SQL]) WHERE id IN ($IDS)) + 10 * 12345.67 AS amount" | tail -n 1)
[[ ${FP_M%,*} == "$WANT" ]] || die "the merged table has (rows, amount) ${FP_M%,*}, expected $WANT"
echo "   merged == DuckDB's naive upsert: $FP_M (rows, sum of amount, xor of row hashes)"

# --- report ---------------------------------------------------------------------
M_S=$(median "${M_T[@]}") M_MB=$(mb "$(median "${M_K[@]}")")
F_S=$(median "${F_T[@]}") F_MB=$(mb "$(median "${F_K[@]}")")
N_S=$(median "${N_T[@]}") N_MB=$(mb "$(median "${N_K[@]}")")
LIMIT_MB=$(mb "$(limit_kb)")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
{
    echo "smelt merge benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $COMMIT"
    echo "ROWS=$ROWS DAYS=$DAYS REPEAT=$REPEAT MEMORY_LIMIT=$MEMORY_LIMIT THREADS=$THREADS; $(nproc) CPUs, load $LOAD_BEFORE -> $LOAD_AFTER"
    echo "silver.events: $ROWS rows, $NFILES files, $TABLE_MB MB; upsert of 10 rows (7 updates on 3 days, 3 new ids)"
    echo "median (and fastest) of $REPEAT runs; all wall times in brackets"
    echo
    printf '%-46s %8s %8s %8s   %s\n' step "wall s" "(min)" "RSS MB" "runs"
    printf '%-46s %8s %8s %8s   %s\n' "(m) smelt run: incremental merge" "$M_S" "$(minimum "${M_T[@]}")" "$M_MB" "${M_T[*]}"
    printf '%-46s %8s %8s %8s   %s\n' "(f) smelt run --full-refresh" "$F_S" "$(minimum "${F_T[@]}")" "$F_MB" "${F_T[*]}"
    printf '%-46s %8s %8s %8s   %s\n' "(n) DuckDB by hand: read all, rewrite all" "$N_S" "$(minimum "${N_T[@]}")" "$N_MB" "${N_T[*]}"
    echo
    echo "(m) note: $NOTE"
    echo "(m) commit: removes $RM_FILES files ($(mib "$RM_BYTES") MB), adds $ADD_FILES ($(mib "$ADD_BYTES") MB); the table has $NFILES files ($TABLE_MB MB)"
    echo "read (rchar): (m) $M_READ MB, (f) $F_READ MB, (n) $N_READ MB; bronze.events is $BRONZE_MB MB, silver.events $TABLE_MB MB"
    echo "time f/m = $(ratio "$F_S" "$M_S")x, n/m = $(ratio "$N_S" "$M_S")x; RSS f/m = $(ratio "$F_MB" "$M_MB")x, n/m = $(ratio "$N_MB" "$M_MB")x"
    echo "peak RSS of (m): $M_MB MB with memory_limit $LIMIT_MB MB ($(awk -v a="$M_MB" -v b="$LIMIT_MB" 'BEGIN { print (a <= b) ? "within" : "ABOVE" }') it)"
    echo "correct: merged == full refresh (md5 of sorted CSV $MD5_M) == DuckDB's naive upsert"
    echo "first run (setup, not timed): $SETUP_S s, $SETUP_MB MB"
} | tee "$OUT/results.txt"
{
    echo "step,wall_s_median,wall_s_min,peak_rss_mb_median,runs_s"
    echo "merge,$M_S,$(minimum "${M_T[@]}"),$M_MB,${M_T[*]}"
    echo "full_refresh,$F_S,$(minimum "${F_T[@]}"),$F_MB,${F_T[*]}"
    echo "duckdb_naive,$N_S,$(minimum "${N_T[@]}"),$N_MB,${N_T[*]}"
} >"$OUT/results.csv"
