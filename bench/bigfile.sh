#!/usr/bin/env bash
# bench/bigfile.sh — one big CSV (about 5 GB) landed and loaded under a
# small memory_limit: does memory stay bounded, and how far is smelt from
# DuckDB writing the same rows to Parquet under the same limit? See
# bench/README.md.
#
#   bench/bigfile.sh                                   # 40M rows, about 4.8 GB
#   ROWS=4000000 MEMORY_LIMIT=256MB bench/bigfile.sh   # a quick one
#
# Environment: ROWS (40000000), MEMORY_LIMIT (1GB), THREADS (2), GZIP (1:
# also the same rows as one .csv.gz, 0: not), KEEP (1: keep the data),
# OUT (bench/out/bigfile_rROWS, recreated).
#
# Steps, each once, in this order (a busy machine slows them alike):
#   cp    cp + sync of the CSV: what writing the landing copy costs at least
#   smelt `smelt run` on a fresh project of one CSV source, its columns
#         declared (lands the file: copy, SHA-256, sync; loads bronze with
#         _source_line); its landing and bronze task times from the summary
#   duck  DuckDB (build/duckq): COPY of read_csv over the same file to one
#         Parquet file, with the same memory_limit and threads
#   and with GZIP=1 the same for the .csv.gz (cp step left out).
# Checks: every row arrived, and each row's _source_line is its line in
# the file (order_id + 2: the header is line 1).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROWS=${ROWS:-40000000}
MEMORY_LIMIT=${MEMORY_LIMIT:-1GB}
THREADS=${THREADS:-2}
GZIP=${GZIP:-1}
KEEP=${KEEP:-0}
OUT=${OUT:-$ROOT/bench/out/bigfile_r${ROWS}}

[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive whole number, got '$ROWS'"
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive whole number, got '$THREADS'"
[[ $MEMORY_LIMIT =~ ^[1-9][0-9]*(KB|MB|GB)$ ]] || die "MEMORY_LIMIT must be like 1GB or 256MB, got '$MEMORY_LIMIT'"
need_binaries
case $OUT in
*"'"*) die "OUT must not contain a single quote: '$OUT'" ;;
esac

# about 120 bytes a row; the CSV, its landed copy, cp's copy, bronze, the
# Parquet files and the gzip: about 3.5 times the CSV
need_kb=$((ROWS * 120 * 7 / 2 / 1024))
rm -rf "$OUT"
mkdir -p "$OUT"
free_kb=$(df -Pk "$OUT" | awk 'NR == 2 { print $4 }')
((free_kb > need_kb)) || die "needs about $((need_kb / 1048576 + 1)) GB of disk in $OUT, $((free_kb / 1048576)) GB free"
pin_binaries
DATA=$OUT/data
mkdir -p "$DATA/csv" "$DATA/gz"

echo "generating $ROWS rows as one CSV ..."
GEN="SELECT i AS order_id, 1 + i % 4 AS line_no, TIMESTAMP '2026-01-01' + INTERVAL (i % 2592000) SECOND AS order_ts,
  ['placed','shipped','delivered','cancelled'][1 + i % 4] AS status, CASE WHEN i % 17 = 0 THEN NULL ELSE i % 50000 END AS customer_id,
  1 + i % 10 AS store_id, 1 + i % 200 AS product_id, 1 + i % 5 AS quantity, CAST((i % 10000) / 100 AS DECIMAL(10,2)) AS unit_price,
  'order ' || i || ' shipped to the customer at their usual address' AS note FROM range($ROWS) t(i)"
"$DUCKQ" "SET threads=$THREADS" \
    "COPY ($GEN) TO '$DATA/csv/orders.csv' (FORMAT csv, HEADER, TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S')" >/dev/null
if [[ $GZIP == 1 ]]; then
    echo "... and as one .csv.gz"
    gzip -1 -c "$DATA/csv/orders.csv" >"$DATA/gz/orders.csv.gz"
fi
csv_bytes=$(stat -c %s "$DATA/csv/orders.csv")
echo "  CSV: $((csv_bytes / 1000000)) MB$([[ $GZIP == 1 ]] && echo ", gzip: $(($(stat -c %s "$DATA/gz/orders.csv.gz") / 1000000)) MB")"

COLS=$ORDER_COLS
project() { # dir folder glob
    rm -rf "$1"
    mkdir -p "$1/sources"
    printf 'name: bigfile\ndefaults:\n  threads: %s\n  memory_limit: %s\n' "$THREADS" "$MEMORY_LIMIT" >"$1/smelt.yml"
    cat >"$1/sources/orders.yml" <<EOF
kind: files
path: $2
glob: "$3"
format: csv
options: {timestamp_format: "%Y-%m-%d %H:%M:%S"}
$ORDER_YAML
EOF
}
task_secs() { # step task
    awk -F, -v t="$2" '$1 == t { print $6 }' "$LOGS/$1.out"
}

declare -A S SR D DR L B
timed cp bash -c "cp '$DATA/csv/orders.csv' '$OUT/copy.csv' && sync '$OUT/copy.csv'"
cp_s=$SECS
rm -f "$OUT/copy.csv"
SHAPES=csv
[[ $GZIP == 1 ]] && SHAPES="csv gz"
for shape in $SHAPES; do
    P=$OUT/p_$shape
    if [[ $shape == csv ]]; then
        project "$P" "$DATA/csv" "*.csv"
        reader="read_csv('$DATA/csv/orders.csv', header=true, columns=$COLS, auto_detect=false, timestampformat='%Y-%m-%d %H:%M:%S')"
    else
        project "$P" "$DATA/gz" "*.csv.gz"
        reader="read_csv('$DATA/gz/orders.csv.gz', header=true, columns=$COLS, auto_detect=false, timestampformat='%Y-%m-%d %H:%M:%S')"
    fi
    echo "smelt run ($shape) ..."
    timed "smelt_$shape" "$SMELT" -C "$P" run --format csv
    check_summary "smelt_$shape"
    S[$shape]=$SECS SR[$shape]=$RSS_MB
    L[$shape]=$(task_secs "smelt_$shape" landing.orders)
    B[$shape]=$(task_secs "smelt_$shape" bronze.orders)
    got=$("$SMELT" -C "$P" query --format csv \
        "SELECT count(*), count(*) FILTER (WHERE _source_line IS DISTINCT FROM order_id + 2) FROM bronze.orders" | tail -n 1)
    [[ $got == "$ROWS,0" ]] || die "bronze.orders ($shape): rows, rows off their line = $got, not $ROWS,0"
    rm -rf "$P/lake/landing"
    echo "DuckDB ($shape) ..."
    timed "duck_$shape" "$DUCKQ" "SET threads=$THREADS" "SET memory_limit='$MEMORY_LIMIT'" \
        "SET temp_directory='$OUT/duck_tmp'" "COPY (SELECT * FROM $reader) TO '$OUT/duck_$shape.parquet' (FORMAT parquet)"
    D[$shape]=$SECS DR[$shape]=$RSS_MB
    got=$("$DUCKQ" "SELECT count(*) FROM '$OUT/duck_$shape.parquet'" | tail -n 1)
    [[ $got == "$ROWS" ]] || die "DuckDB wrote $got rows ($shape), not $ROWS"
    rm -f "$OUT/duck_$shape.parquet"
done

{
    echo "big file bench: ROWS=$ROWS ($((csv_bytes / 1000000)) MB of CSV) MEMORY_LIMIT=$MEMORY_LIMIT THREADS=$THREADS ($(date -u +%Y-%m-%d), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
    printf 'cp + sync of the CSV: %.2f s\n' "$cp_s"
    printf '%-6s %10s %10s %10s %10s %8s %10s %10s\n' shape "smelt s" landing bronze "duckdb s" ratio "smelt MB" "duckdb MB"
    for shape in $SHAPES; do
        printf '%-6s %10.2f %10.2f %10.2f %10.2f %8.2f %10d %10d\n' "$shape" "${S[$shape]}" "${L[$shape]}" "${B[$shape]}" \
            "${D[$shape]}" "$(awk -v s="${S[$shape]}" -v d="${D[$shape]}" 'BEGIN { print (d > 0 ? s / d : 0) }')" \
            "${SR[$shape]}" "${DR[$shape]}"
    done
    echo "smelt: landing (copy + SHA-256 + sync) then bronze (a Delta table with _source_line);"
    echo "DuckDB: the same rows to one Parquet file. MB: peak resident memory."
} | tee "$OUT/results.txt"

[[ $KEEP == 1 ]] || rm -rf "$DATA" "$OUT"/p_*
