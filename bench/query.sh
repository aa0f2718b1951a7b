#!/usr/bin/env bash
# bench/query.sh — file pruning: `smelt query` for one day of a Delta table
# with a year of day partitions, against DuckDB reading that day's Parquet
# file directly. See bench/README.md.
#
#   ROWS=3000000 DAYS=365 bench/query.sh      (defaults)
#
# Steps:
#   0  (not timed) a smelt project whose one Parquet source file (ROWS rows
#      over DAYS days, made by DuckDB) becomes silver.events, partitioned by
#      day in one commit; and bronze.days, DAYS commits of one day each (one
#      smelt run per day: checkpoints every 10 commits), unpartitioned; and
#      a copy of bronze.days without its checkpoints (every commit replayed
#      from JSON), registered as ext.days_json
#   a  smelt query: one day of silver.events (partition pruning)
#   b  build/duckq: the same SELECT over that day's one Parquet file
#   c  smelt query --no-prune: a, reading every file
#   d  smelt query "SELECT 1": start-up, DuckDB, no table
#   e  smelt version: start-up only
#   f  smelt query: one day of bronze.days (stats pruning; log from a checkpoint)
#   g  smelt query: one day of ext.days_json (stats pruning; DAYS JSON commits)
#   h  a C program that only starts with libduckdb linked (prints its version)
#   i  the same program linked with smelt's libraries too (the Makefile's
#      PKGS: SQLite, libarchive, ...): i - h is what smelt pays to start
#      before main()
# Each step runs REPEAT times, in turns (a b c d e f g a b ...), timed with
# bash's EPOCHREALTIME (microseconds); the report shows medians and minima.
#
# Environment: ROWS, DAYS, DAY (the day queried, 1-based, default the middle
# one), REPEAT (default 21), OUT (default bench/out/query_rROWS_dDAYS;
# deleted and recreated), DAILY (build bronze.days and run f and g: 1, the
# default, or 0), REUSE (1: keep the tables OUT already has from an earlier
# run with the same settings and only time again), SMELT (the binary to
# time, default build/smelt: an older build, to compare).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SMELT=${SMELT:-$ROOT/build/smelt}
DUCKQ=$ROOT/build/duckq
ROWS=${ROWS:-3000000}
DAYS=${DAYS:-365}
DAY=${DAY:-$(((DAYS + 1) / 2))}
REPEAT=${REPEAT:-21}
DAILY=${DAILY:-1}
REUSE=${REUSE:-0}
OUT=${OUT:-$ROOT/bench/out/query_r${ROWS}_d${DAYS}}

[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive whole number, got '$ROWS'"
[[ $DAYS =~ ^[1-9][0-9]*$ ]] || die "DAYS must be a positive whole number, got '$DAYS'"
[[ $DAY =~ ^[1-9][0-9]*$ ]] && ((DAY <= DAYS)) || die "DAY must be 1..$DAYS, got '$DAY'"
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive whole number, got '$REPEAT'"
[[ $DAILY == 0 || $DAILY == 1 ]] || die "DAILY must be 0 or 1, got '$DAILY'"
[[ -x $SMELT ]] || die "$SMELT is missing: build it first with 'make -C $ROOT build/smelt'"
[[ -n ${EPOCHREALTIME:-} ]] || die "bash 5 is needed (EPOCHREALTIME)"
if [[ ! -x $DUCKQ ]]; then
    echo "building build/duckq ..."
    make -s -C "$ROOT" build/duckq >/dev/null || die "$DUCKQ is missing and 'make build/duckq' failed"
fi
case $OUT in
*"'"*) die "OUT must not contain a single quote: '$OUT'" ;;
esac
command -v python3 >/dev/null || die "python3 is needed"

P=$OUT/project
if [[ $REUSE == 1 && -f $OUT/setup.done ]]; then
    [[ $(cat "$OUT/setup.done") == "$ROWS $DAYS $DAILY" ]] || die "$OUT was made with other settings"
else
    REUSE=0
    rm -rf "$OUT"
fi
pin_binaries

echo "== smelt query benchmark: ROWS=$ROWS DAYS=$DAYS DAY=$DAY REPEAT=$REPEAT"
echo "   output in $OUT"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "   machine: $(nproc) CPUs, load average $LOAD_BEFORE"

# --- 0. setup ------------------------------------------------------------------
GEN="SELECT i AS id, DATE '2025-01-01' + CAST(i % $DAYS AS INTEGER) AS day, 'r' || (i % 7) AS region,
    CAST((i % 1000) / 10.0 AS DECIMAL(10,2)) AS amount FROM range($ROWS) t(i)"
if ((REUSE)); then
    echo "-- 0. reusing the tables in $P"
else
    echo "-- 0. the project and its tables (not timed) ..."
    mkdir -p "$P/sources" "$P/models/silver" "$P/incoming/events" "$P/incoming/days"
    printf 'name: bench\ndefaults:\n  threads: 2\n  memory_limit: 2GB\n' >"$P/smelt.yml"
    printf 'kind: files\npath: incoming/events\nglob: "*.parquet"\nformat: parquet\n' >"$P/sources/events.yml"
    printf 'kind: files\npath: incoming/days\nglob: "*.parquet"\nformat: parquet\n' >"$P/sources/days.yml"
    echo 'SELECT id, day, region, amount FROM bronze.events' >"$P/models/silver/events.sql"
    echo 'partition_by: day' >"$P/models/silver/events.yml"
    "$DUCKQ" "COPY ($GEN) TO '$P/incoming/events/events.parquet' (FORMAT parquet)" >"$LOGS/gen.out"
    "$SMELT" -C "$P" run --format csv >"$LOGS/run.out" 2>&1 || die "smelt run failed: $(cat "$LOGS/run.out")"
    if ((DAILY)); then
        echo "   bronze.days: $DAYS smelt runs, one new day's file each ..."
        "$DUCKQ" "SET partitioned_write_max_open_files = 100000" "COPY ($GEN) TO '$OUT/days_src' (FORMAT parquet,
            PARTITION_BY (day), WRITE_PARTITION_COLUMNS true)" >"$LOGS/gen_days.out"
        d=0
        for f in $(cd "$OUT/days_src" && ls -d day=* | sort); do
            mv "$OUT/days_src/$f/data_0.parquet" "$P/incoming/days/$f.parquet"
            "$SMELT" -C "$P" run --format csv >"$LOGS/days.out" 2>&1 ||
                die "smelt run for $f failed: $(cat "$LOGS/days.out")"
            d=$((d + 1))
        done
        ((d == DAYS)) || die "expected $DAYS daily files, made $d"
        cp -r "$P/lake/bronze/days" "$OUT/days_json"
        rm -f "$OUT"/days_json/_delta_log/*.checkpoint.parquet "$OUT/days_json/_delta_log/_last_checkpoint"
        "$SMELT" -C "$P" crawl "$OUT/days_json" --as ext.days_json >"$LOGS/crawl.out"
    fi
    echo "$ROWS $DAYS $DAILY" >"$OUT/setup.done"
fi
DAY_SQL=$("$DUCKQ" "SELECT CAST(DATE '2025-01-01' + $((DAY - 1)) AS VARCHAR) AS d" | tail -1)
SQL_A="SELECT count(*) AS n, sum(amount) AS amount FROM silver.events WHERE day = '$DAY_SQL'"

# The day's file, found from the log by python (not by smelt).
DAY_FILE=$(python3 - "$P/lake/silver/events" "$DAY_SQL" <<'EOF'
import glob, json, os, sys
from urllib.parse import unquote
t, day = sys.argv[1], sys.argv[2]
live = {}
for f in sorted(glob.glob(os.path.join(t, '_delta_log', '*.json'))):
    for line in open(f):
        a = json.loads(line)
        if 'add' in a: live[a['add']['path']] = a['add']['partitionValues'].get('day')
        if 'remove' in a: live.pop(a['remove']['path'], None)
files = [p for p, d in live.items() if d == day]
print(len(live), len(files), os.path.join(t, unquote(files[0])) if files else '')
EOF
)
read -r NFILES NDAYFILES DAY_PATH <<<"$DAY_FILE"
((NDAYFILES >= 1)) || die "no data file for $DAY_SQL in silver.events"
SQL_B="SELECT count(*) AS n, sum(amount) AS amount FROM read_parquet('$DAY_PATH')"
echo "   silver.events: $NFILES data files, $NDAYFILES for $DAY_SQL"

if ((DAILY)); then
    SQL_F="SELECT count(*) AS n, sum(amount) AS amount FROM bronze.days WHERE day = '$DAY_SQL'"
    SQL_G="SELECT count(*) AS n, sum(amount) AS amount FROM ext.days_json WHERE day = '$DAY_SQL'"
fi

# Same answers?
want=$("$DUCKQ" "$SQL_B" | tail -1)
CHECK=("$SQL_A")
((DAILY)) && CHECK+=("$SQL_F" "$SQL_G")
for s in "${CHECK[@]}"; do
    got=$("$SMELT" -C "$P" query --format csv "$s" | tail -1)
    [[ $got == "$want" ]] || die "smelt and DuckDB differ: '$got' vs '$want' for $s"
done
echo "   $DAY_SQL: $want (count, sum of amount) from smelt and from DuckDB"

# files_read TABLE SQL -> "scanned total by_partition by_stats"
files_read() {
    "$SMELT" -C "$P" query --explain --format json "$2" | python3 -c '
import json, sys
t = [x for x in json.load(sys.stdin)["tables"] if x["table"] == sys.argv[1]][0]
print(t["files_scanned"], t["files_total"], t["pruned_by_partition"], t["pruned_by_stats"])' "$1"
}
read -r A_READ A_TOTAL A_PART A_STATS <<<"$(files_read silver.events "$SQL_A")"
if ((DAILY)); then
    read -r F_READ F_TOTAL F_PART F_STATS <<<"$(files_read bronze.days "$SQL_F")"
    read -r G_READ G_TOTAL G_PART G_STATS <<<"$(files_read ext.days_json "$SQL_G")"
fi

# Two programs that do nothing but start: what linking costs.
PROBE=$OUT/bin/probe.c
printf '%s\n' '#include <duckdb.h>' '#include <stdio.h>' \
    'int main(void) { printf("%s\n", duckdb_library_version()); return 0; }' >"$PROBE"
DUCKDB_DIR=${DUCKDB_DIR:-$ROOT/deps/duckdb}
PROBES=0
if command -v cc >/dev/null && command -v pkg-config >/dev/null &&
    cc -O1 -isystem "$DUCKDB_DIR" "$PROBE" -o "$OUT/bin/start_duckdb" -L"$DUCKDB_DIR" \
        -Wl,-rpath,"$DUCKDB_DIR" -lduckdb 2>"$LOGS/probe.err" &&
    cc -O1 -isystem "$DUCKDB_DIR" "$PROBE" -o "$OUT/bin/start_smelt_libs" -Wl,--no-as-needed \
        -L"$DUCKDB_DIR" -Wl,-rpath,"$DUCKDB_DIR" -lduckdb \
        $(pkg-config --libs $(sed -n 's/^PKGS := //p' "$ROOT/Makefile")) -lm -lpthread 2>>"$LOGS/probe.err"; then
    PROBES=1
fi

# --- timed runs ----------------------------------------------------------------
# timed NAME CMD... — run CMD once; appends its wall seconds to T_NAME.
declare -A T
timed() {
    local name=$1
    shift
    local s=$EPOCHREALTIME
    "$@" >"$LOGS/$name.out" 2>"$LOGS/$name.err" || die "step $name failed: $* ($(cat "$LOGS/$name.err"))"
    local e=$EPOCHREALTIME
    T[$name]+="$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.4f", e - s }') "
}
STEPS=(a b c d e)
((DAILY)) && STEPS+=(f g)
((PROBES)) && STEPS+=(h i)
echo "-- timed runs, $REPEAT of each, in turns ..."
for ((r = 1; r <= REPEAT; r++)); do
    timed a "$SMELT" -C "$P" query --format csv "$SQL_A"
    timed b "$DUCKQ" "$SQL_B"
    timed c "$SMELT" -C "$P" query --no-prune --format csv "$SQL_A"
    timed d "$SMELT" -C "$P" query --format csv "SELECT 1"
    timed e "$SMELT" version
    if ((DAILY)); then
        timed f "$SMELT" -C "$P" query --format csv "$SQL_F"
        timed g "$SMELT" -C "$P" query --format csv "$SQL_G"
    fi
    if ((PROBES)); then
        timed h "$OUT/bin/start_duckdb"
        timed i "$OUT/bin/start_smelt_libs"
    fi
done
# Where smelt's own time goes (smelt -v), from one more run of a, f, g.
"$SMELT" -v -C "$P" query --format csv "$SQL_A" 2>"$LOGS/a_v.err" >/dev/null
if ((DAILY)); then
    "$SMELT" -v -C "$P" query --format csv "$SQL_F" 2>"$LOGS/f_v.err" >/dev/null
    "$SMELT" -v -C "$P" query --format csv "$SQL_G" 2>"$LOGS/g_v.err" >/dev/null
fi

stat() { # median|min of the times of step $2, in ms
    echo "${T[$2]}" | tr ' ' '\n' | grep . | sort -g | awk -v w="$1" '{ v[NR] = $1 }
        END { if (w == "min") m = v[1]; else m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m * 1000 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
meets() { awk -v v="$1" -v g="$2" 'BEGIN { print (v != "n/a" && v + 0 <= g + 0) ? "yes" : "NO" }'; }
debug_line() { sed -n 's/^smelt: debug: query: //p' "$LOGS/$1_v.err" | tail -1; }

{
    echo
    echo "smelt query benchmark  ROWS=$ROWS DAYS=$DAYS day=$DAY_SQL REPEAT=$REPEAT  $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "$(nproc) CPUs, load average $LOAD_BEFORE before, $(cut -d' ' -f1-3 /proc/loadavg) after"
    echo
    printf '%-58s %9s %9s\n' step "median ms" "min ms"
    row() { printf '%-58s %9s %9s\n' "$1" "$(stat median "$2")" "$(stat min "$2")"; }
    row "(a) smelt query, one day of silver.events" a
    row "(b) DuckDB (build/duckq), that day's Parquet file" b
    row "(c) smelt query --no-prune, one day of silver.events" c
    row "(d) smelt query \"SELECT 1\"" d
    row "(e) smelt version" e
    if ((DAILY)); then
        row "(f) smelt query, one day of bronze.days ($DAYS commits)" f
        row "(g) smelt query, one day of ext.days_json (no checkpoint)" g
    fi
    if ((PROBES)); then
        row "(h) start a program linked with libduckdb only" h
        row "(i) ... linked with smelt's libraries too" i
    fi
    echo
    printf '%-46s %9s %9s   %-8s %s\n' "measure" median "(min)" goal met
    AB=$(ratio "$(stat median a)" "$(stat median b)")
    printf '%-46s %9s %9s   %-8s %s\n' "files read by (a)" "$A_READ of $A_TOTAL" "" "<= 2" "$(meets "$A_READ" 2)"
    printf '%-46s %9s %9s   %-8s %s\n' "time a/b" "$AB" "($(ratio "$(stat min a)" "$(stat min b)"))" "<= 1.2" "$(meets "$AB" 1.2)"
    printf '%-46s %9s %9s   %-8s %s\n' "time c/a (what pruning saves)" "$(ratio "$(stat median c)" "$(stat median a)")" "" "-" "(reported only)"
    if ((DAILY)); then
        printf '%-46s %9s %9s   %-8s %s\n' "files read by (f), (g)" "$F_READ of $F_TOTAL" "$G_READ of $G_TOTAL" "<= 2" "$(meets "$F_READ" 2)"
        printf '%-46s %9s %9s   %-8s %s\n' "time f/b" "$(ratio "$(stat median f)" "$(stat median b)")" "" "-" "(reported only)"
        printf '%-46s %9s %9s   %-8s %s\n' "time g/b" "$(ratio "$(stat median g)" "$(stat median b)")" "" "-" "(reported only)"
    fi
    echo
    if ((PROBES)); then
        echo "(a) - (b) = $(awk -v a="$(stat median a)" -v b="$(stat median b)" 'BEGIN { printf "%.1f", a - b }') ms, of which starting with smelt's libraries: (i) - (h) = $(awk -v a="$(stat median i)" -v b="$(stat median h)" 'BEGIN { printf "%.1f", a - b }') ms"
    fi
    echo "(a) pruned $A_PART files by partition values, $A_STATS by column statistics"
    ((DAILY)) && echo "(f) pruned $F_PART by partition values, $F_STATS by column statistics; (g) $G_PART, $G_STATS"
    echo "where smelt's time goes (smelt -v, one run each; the rest is start-up, DuckDB, the query):"
    echo "  (a) $(debug_line a)"
    if ((DAILY)); then
        echo "  (f) $(debug_line f)"
        echo "  (g) $(debug_line g)"
    fi
} | tee "$OUT/results.txt"
{
    echo "step,median_ms,min_ms,runs_s"
    for s in "${STEPS[@]}"; do echo "$s,$(stat median "$s"),$(stat min "$s"),${T[$s]% }"; done
} >"$OUT/results.csv"
echo
echo "logs in $LOGS; results in $OUT/results.txt and results.csv"
