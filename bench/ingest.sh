#!/usr/bin/env bash
# bench/ingest.sh — time smelt's landing + bronze load of one feed of ROWS
# rows in three shapes, each against DuckDB reading the same files straight
# into a table, in the same run. See bench/README.md.
#
#   ROWS=2000000 FILES=30 bench/ingest.sh
#
# Shapes: (gz) FILES gzip CSV files; (ndjson) FILES NDJSON files; (zip) one
# zip of FILES CSV files. smelt: `smelt run` on a fresh project of one source
# and no models (lands the
# files, checks them, loads bronze as a Delta table with _source_line).
# DuckDB: build/duckq, `CREATE TABLE t AS SELECT * FROM read_csv/read_json`
# over the same files (the zip's members unpacked beforehand, untimed).
# Wall time from /usr/bin/time; each step runs REPEAT times in turns, the
# median is reported. Ends by running bench/ingest_rest.sh if it exists.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROWS=${ROWS:-2000000}
FILES=${FILES:-30}
REPEAT=${REPEAT:-3}
THREADS=${THREADS:-2}
OUT=${OUT:-$ROOT/bench/out/ingest_r${ROWS}}

[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive whole number, got '$ROWS'"
[[ $FILES =~ ^[1-9][0-9]*$ ]] || die "FILES must be a positive whole number, got '$FILES'"
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive whole number, got '$REPEAT'"
need_binaries
for tool in zip unzip python3; do
    command -v "$tool" >/dev/null || die "'$tool' is needed"
done
case $OUT in
*"'"*) die "OUT must not contain a single quote: '$OUT'" ;;
esac

rm -rf "$OUT"
pin_binaries
mkdir -p "$OUT/data"
DATA=$OUT/data

COLS=$ORDER_COLS
YCOLS=$ORDER_YAML

# --- data (untimed): DuckDB writes ROWS rows split into FILES files ------------
echo "generating $ROWS rows in $FILES files of each shape ..."
GEN="SELECT i AS order_id, 1 + i % 4 AS line_no, TIMESTAMP '2026-01-01' + INTERVAL (i % 2592000) SECOND AS order_ts,
  ['placed','shipped','delivered','cancelled'][1 + i % 4] AS status, CASE WHEN i % 17 = 0 THEN NULL ELSE i % 50000 END AS customer_id,
  1 + i % 10 AS store_id, 1 + i % 200 AS product_id, 1 + i % 5 AS quantity, CAST((i % 10000) / 100 AS DECIMAL(10,2)) AS unit_price,
  'order ' || i AS note, i % $FILES AS part FROM range($ROWS) t(i)"
# (COPY ... FORMAT json has no PARTITION_BY: one COPY per NDJSON file)
mkdir -p "$DATA/nd"
nd=()
for k in $(seq 0 $((FILES - 1))); do
    nd+=("COPY (SELECT * EXCLUDE (part) FROM gen WHERE part = $k) TO '$DATA/nd/part_$k.ndjson' (FORMAT json, TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S')")
done
"$DUCKQ" "SET threads=$THREADS" "CREATE TABLE gen AS $GEN" \
    "COPY gen TO '$DATA/gz' (FORMAT csv, HEADER, PARTITION_BY (part), COMPRESSION gzip, TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S')" \
    "COPY gen TO '$DATA/csv' (FORMAT csv, HEADER, PARTITION_BY (part), TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S')" \
    "${nd[@]}" >/dev/null
# flatten part=N/data_0.ext into one folder per shape
flatten() { # dir ext
    local i=0
    for f in "$1"/part=*/*; do
        mv "$f" "$1/part_$(basename "$(dirname "$f")" | cut -d= -f2).$2"
    done
    rmdir "$1"/part=*
}
flatten "$DATA/gz" csv.gz
flatten "$DATA/csv" csv
(cd "$DATA/csv" && zip -q -1 "$DATA/orders.zip" ./*.csv)
mkdir -p "$DATA/zip" && mv "$DATA/orders.zip" "$DATA/zip/"
mkdir -p "$DATA/unzipped" && (cd "$DATA/unzipped" && unzip -q "$DATA/zip/orders.zip")
du -sh "$DATA/gz" "$DATA/nd" "$DATA/zip" | sed 's/^/  /'

# a fresh project per run: smelt.yml + one source over the shape's folder
project() { # dir shape-folder format glob
    rm -rf "$1"
    mkdir -p "$1/sources"
    printf 'name: bench\ndefaults:\n  threads: %s\n  memory_limit: 4GB\n' "$THREADS" > "$1/smelt.yml"
    {
        echo "kind: files"
        echo "path: $2"
        echo "glob: \"$4\""
        echo "format: $3"
        [ "$3" = csv ] && echo 'options: {timestamp_format: "%Y-%m-%d %H:%M:%S"}'
        echo "$YCOLS"
    } > "$1/sources/orders.yml"
}

declare -A S D SR DR
SHAPES="gz ndjson zip"
for r in $(seq 1 "$REPEAT"); do
    for shape in $SHAPES; do
        case $shape in
        gz) folder=$DATA/gz fmt=csv glob='*.csv.gz' reader="read_csv('$DATA/gz/*.csv.gz', header=true, columns=$COLS, auto_detect=false, timestampformat='%Y-%m-%d %H:%M:%S')" ;;
        ndjson) folder=$DATA/nd fmt=ndjson glob='*.ndjson' reader="read_json('$DATA/nd/*.ndjson', format='newline_delimited', columns=$COLS)" ;;
        zip) folder=$DATA/zip fmt=csv glob='*.zip' reader="read_csv('$DATA/unzipped/*.csv', header=true, columns=$COLS, auto_detect=false, timestampformat='%Y-%m-%d %H:%M:%S')" ;;
        esac
        P=$OUT/p_$shape
        project "$P" "$folder" "$fmt" "$glob"
        timed "smelt_${shape}_$r" "$SMELT" -C "$P" run
        S[$shape]="${S[$shape]:-} $SECS"
        SR[$shape]="${SR[$shape]:-} $RSS_MB"
        rows=$("$SMELT" -C "$P" query --format csv "SELECT count(*) FROM bronze.orders" | tail -1)
        [ "$rows" = "$ROWS" ] || die "smelt loaded $rows rows of $shape, not $ROWS"
        timed "duckdb_${shape}_$r" "$DUCKQ" "SET threads=$THREADS" "SET memory_limit='4GB'" \
            "CREATE TABLE t AS SELECT * FROM $reader" "SELECT count(*) FROM t"
        D[$shape]="${D[$shape]:-} $SECS"
        DR[$shape]="${DR[$shape]:-} $RSS_MB"
        rows=$(tail -1 "$LOGS/duckdb_${shape}_$r.out")
        [ "$rows" = "$ROWS" ] || die "DuckDB read $rows rows of $shape, not $ROWS"
    done
done

{
    echo "ingest bench: ROWS=$ROWS FILES=$FILES REPEAT=$REPEAT THREADS=$THREADS ($(date -u +%Y-%m-%d), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
    printf '%-8s %12s %12s %8s %10s %10s\n' shape "smelt s" "duckdb s" ratio "smelt MB" "duckdb MB"
    for shape in $SHAPES; do
        s=$(median ${S[$shape]})
        d=$(median ${D[$shape]})
        sr=$(median ${SR[$shape]})
        dr=$(median ${DR[$shape]})
        printf '%-8s %12.2f %12.2f %8.2f %10d %10d\n' "$shape" "$s" "$d" "$(echo "$s $d" | awk '{ print ($2 > 0 ? $1 / $2 : 0) }')" "$sr" "$dr"
    done
    echo "goal: ratio <= 1.3 (smelt: landing copy + sha256 + integrity check + bronze Delta table with _source_line;"
    echo "DuckDB: the same rows read into an in-memory table)"
} | tee "$OUT/results.txt"

if [[ -x $ROOT/bench/ingest_rest.sh ]]; then
    echo
    "$ROOT/bench/ingest_rest.sh"
elif [[ -f $ROOT/bench/ingest_rest.sh ]]; then
    echo
    bash "$ROOT/bench/ingest_rest.sh"
fi
