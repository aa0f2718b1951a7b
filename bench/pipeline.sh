#!/usr/bin/env bash
# bench/pipeline.sh — time smelt's pipeline against the same work written as
# one hand-written DuckDB SQL script. See bench/README.md.
#
#   ROWS=2000000 DAYS=30 bench/pipeline.sh      (defaults; `make bench` runs it)
#
# Steps:
#   0  generate the project (smelt init) and one extra day's orders file
#   a  smelt run from an empty lake
#   b  bench/handwritten.sql through build/duckq (bronze written as Parquet)
#   b' the same without writing bronze (silver reads the raw files)
#   c  smelt run again with nothing new
#   d  the extra day's file copied into incoming/orders, smelt run again
# Wall time and peak RSS come from /usr/bin/time -f '%e %M'.
#
# Environment: ROWS, DAYS, SEED (init's --seed, default 42), OUT (output
# folder, default bench/out/rROWS_dDAYS; deleted and recreated), TOP (how
# many of (a)'s slowest tasks to list, default 5), REPEAT (runs of each timed
# step, default 3; the table shows the median).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TEMPLATE=$ROOT/bench/handwritten.sql
ROWS=${ROWS:-2000000}
DAYS=${DAYS:-30}
SEED=${SEED:-42}
TOP=${TOP:-5}
REPEAT=${REPEAT:-3}
OUT=${OUT:-$ROOT/bench/out/r${ROWS}_d${DAYS}}

# --- preconditions ----------------------------------------------------------
[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive whole number, got '$ROWS'"
[[ $DAYS =~ ^[1-9][0-9]*$ ]] || die "DAYS must be a positive whole number, got '$DAYS'"
[[ $SEED =~ ^-?[0-9]+$ ]] || die "SEED must be a whole number, got '$SEED'"
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive whole number, got '$REPEAT'"
[[ -f $TEMPLATE ]] || die "$TEMPLATE is missing"
need_binaries
case $OUT in
*"'"*) die "OUT must not contain a single quote: '$OUT'" ;;
esac
for tool in gzip unzip awk sort cmp; do
    command -v "$tool" >/dev/null || die "'$tool' is needed"
done

rm -rf "$OUT"
pin_binaries
PROJ=$OUT/project
EXTRA_PROJ=$OUT/extra_project
HAND=$OUT/handwritten

q() { "$DUCKQ" "$@" 2>&1; } # SQL in one in-memory DuckDB, last result as CSV

# task_field STEP TASK COLUMN — a column of one task in smelt's csv summary.
task_field() {
    awk -F, -v t="$2" -v c="$3" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $1 == t { print $(col[c]); exit }' "$LOGS/$1.out"
}

echo "== smelt pipeline benchmark: ROWS=$ROWS DAYS=$DAYS SEED=$SEED"
echo "   output in $OUT"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "   machine: $(nproc) CPUs, load average $LOAD_BEFORE"

# --- 0. generate ------------------------------------------------------------
echo "-- 0. smelt init (not timed) ..."
(cd "$OUT" && "$SMELT" init project --rows "$ROWS" --days "$DAYS" --seed "$SEED") >"$LOGS/init.out"
(cd "$OUT" && "$SMELT" init extra_project --rows "$ROWS" --days $((DAYS + 1)) --seed "$SEED") \
    >"$LOGS/init_extra.out"

ORDERS_DIR=$PROJ/incoming/orders
mapfile -t ORDER_FILES < <(cd "$ORDERS_DIR" && printf '%s\n' orders_*.csv.gz | sort)
((${#ORDER_FILES[@]} == DAYS)) || die "expected $DAYS order files in $ORDERS_DIR, found ${#ORDER_FILES[@]}"
mapfile -t EXTRA_FILES < <(cd "$EXTRA_PROJ/incoming/orders" && printf '%s\n' orders_*.csv.gz | sort)
EXTRA_NAME=${EXTRA_FILES[$DAYS]}
[[ ! -e $ORDERS_DIR/$EXTRA_NAME ]] || die "the extra day's file $EXTRA_NAME is already in $ORDERS_DIR"

# read_csv options for quick checks of order files: the declared columns,
# malformed lines skipped.
ORDERS_READ="columns = {'order_id': 'BIGINT', 'line_no': 'INTEGER', 'order_ts': 'TIMESTAMP',
    'updated_at': 'TIMESTAMP', 'status': 'VARCHAR', 'customer_id': 'BIGINT', 'store_id': 'INTEGER',
    'product_id': 'INTEGER', 'quantity': 'INTEGER', 'unit_price': 'DECIMAL(10,2)'},
    header = true, auto_detect = false, timestampformat = '%Y-%m-%d %H:%M:%S', ignore_errors = true"

# The readable order files (smelt quarantines the truncated one whole).
READABLE=()
for f in "${ORDER_FILES[@]}"; do
    if gzip -t "$ORDERS_DIR/$f" 2>/dev/null; then READABLE+=("$f"); else echo "   unreadable (skipped by b): $f"; fi
done
((${#READABLE[@]} > 0)) || die "no readable order file in $ORDERS_DIR"
ORDERS_SQL="" # their paths as a SQL list: 'a', 'b', ...
for f in "${READABLE[@]}"; do ORDERS_SQL+="${ORDERS_SQL:+, }'$ORDERS_DIR/$f'"; done

# The extra day. `smelt init --days DAYS+1` with the same rows and seed spreads
# the rows over one more day (and re-derives late updates, customers and the
# truncated day), so its first DAYS files normally differ from the project's.
# If they are identical, its last file is the next day as is. Otherwise its last
# file is renumbered: every order_id is shifted past the project's largest, so
# the new day brings new orders only and never collides with existing ones
# (its late re-sends of orders of the days before become new orders whose
# order_ts lies on those days).
same=0
for ((i = 0; i < DAYS; i++)); do
    f=${ORDER_FILES[$i]}
    if [[ ${EXTRA_FILES[$i]} == "$f" ]] && cmp -s "$ORDERS_DIR/$f" "$EXTRA_PROJ/incoming/orders/$f"; then
        same=$((same + 1))
    fi
done
EXTRA=$OUT/$EXTRA_NAME
EXTRA_SRC=$EXTRA_PROJ/incoming/orders/$EXTRA_NAME
if ((same == DAYS)); then
    cp "$EXTRA_SRC" "$EXTRA"
    EXTRA_HOW="last file of 'smelt init --days $((DAYS + 1))' (its first $DAYS files are identical)"
else
    max_id=$(q "SELECT max(order_id) AS m FROM read_csv([$ORDERS_SQL], $ORDERS_READ)" | tail -n 1)
    [[ $max_id =~ ^[0-9]+$ ]] || die "cannot read the largest order_id of the project: $max_id"
    # A truncated source (when DAYS+1 <= 7 the last day is the cut one): keep
    # its whole lines, drop the partial last one.
    truncated=0
    gzip -t "$EXTRA_SRC" 2>/dev/null || truncated=1
    extra_text() {
        if ((truncated)); then { gzip -dc "$EXTRA_SRC" 2>/dev/null || true; } | sed '$d'; else gzip -dc "$EXTRA_SRC"; fi
    }
    min_id=$(extra_text | awk -F, 'NR > 1 && $1 ~ /^[0-9]+$/ && (m == "" || $1 + 0 < m) { m = $1 + 0 } END { print m }')
    [[ $min_id =~ ^[0-9]+$ ]] || die "no order_id in $EXTRA_SRC"
    shift_by=$((max_id - min_id + 1))
    ((shift_by > 0)) || shift_by=0
    extra_text | awk -F, -v OFS=, -v s="$shift_by" 'NR > 1 && $1 ~ /^[0-9]+$/ { $1 = sprintf("%d", $1 + s) } { print }' |
        gzip -6 >"$EXTRA"
    gzip -t "$EXTRA" || die "the extra day's file $EXTRA is not valid gzip"
    EXTRA_HOW="last file of 'smelt init --days $((DAYS + 1))' with order_id shifted by +$shift_by (only $same of its first $DAYS files equal the project's)"
fi
# Check it: a later day than the project's last, order ids all new to it.
extra_date=${EXTRA_NAME#orders_}
extra_date=${extra_date%.csv.gz}
last_date=${ORDER_FILES[$((DAYS - 1))]#orders_}
last_date=${last_date%.csv.gz}
read -r x_lines x_min x_max x_new_day < <(q "SELECT count(*), min(order_id), max(order_id),
        count(*) FILTER (WHERE CAST(order_ts AS DATE) = DATE '$extra_date')
    FROM read_csv('$EXTRA', $ORDERS_READ)" | tail -n 1 | tr ',' ' ')
if ! [[ $x_lines =~ ^[0-9]+$ ]] || ((x_lines == 0)); then die "cannot read the extra day's file $EXTRA"; fi
[[ $extra_date > $last_date ]] || die "the extra file $EXTRA_NAME is not after the project's last day $last_date"
if [[ ${max_id:-} =~ ^[0-9]+$ ]] && ((x_min <= max_id)); then
    die "the extra day's order ids ($x_min..$x_max) overlap the project's (up to $max_id)"
fi
echo "   extra day: $EXTRA_NAME, $x_lines lines ($x_new_day ordered on $extra_date, the rest re-sends of earlier days),"
echo "              order_id $x_min..$x_max; $EXTRA_HOW"

# --- settings of the hand-written SQL ---------------------------------------------
# memory_limit and threads as the generated smelt.yml sets them.
yml_default() { awk -v k="$1" '$1 == k ":" { print $2; exit }' "$PROJ/smelt.yml"; }
THREADS=$(yml_default threads)
MEMORY_LIMIT=$(yml_default memory_limit)
[[ -n $THREADS && $THREADS != 0 ]] || THREADS=$(nproc)
[[ -n $MEMORY_LIMIT ]] || MEMORY_LIMIT=4GB
INGESTED_AT=$(date -u '+%Y-%m-%d %H:%M:%S')

# build_sql OUTDIR SECTION... — the template's sections with placeholders filled.
build_sql() {
    local dir=$1
    shift
    awk -v want=" $* " '/^-- @@ / { on = index(want, " " $3 " ") > 0; next } on' "$TEMPLATE" |
        awk -v out="$dir" -v thr="$THREADS" -v mem="$MEMORY_LIMIT" -v ing="$INGESTED_AT" \
            -v orders="$ORDERS_SQL" -v cust="$PROJ/incoming/customers/customers.ndjson" \
            -v prod="$PROJ/incoming/products/products.csv" -v stor="$PROJ/incoming/stores/stores.csv" '
        function sub_all(s, k, v,    i, r) {
            r = ""
            while ((i = index(s, k)) > 0) { r = r substr(s, 1, i - 1) v; s = substr(s, i + length(k)) }
            return r s
        }
        {
            $0 = sub_all($0, "@OUT@", out); $0 = sub_all($0, "@THREADS@", thr)
            $0 = sub_all($0, "@MEMORY_LIMIT@", mem); $0 = sub_all($0, "@INGESTED_AT@", ing)
            $0 = sub_all($0, "@ORDERS_FILES@", orders); $0 = sub_all($0, "@CUSTOMERS_FILE@", cust)
            $0 = sub_all($0, "@PRODUCTS_FILE@", prod); $0 = sub_all($0, "@STORES_FILE@", stor)
            $0 = sub_all($0, "@POS_DIR@", out "/pos")
            print
        }'
}

# prepare_sql NAME OUTDIR SECTION... — write $OUT/NAME.sql and load its
# statements into the array SQL_NAME (one duckq argument each).
prepare_sql() {
    local name=$1 dir=$2
    shift 2
    build_sql "$dir" "$@" >"$OUT/$name.sql"
    ! grep -q '@[A-Z_]*@' "$OUT/$name.sql" || die "unfilled placeholder in $OUT/$name.sql"
    mapfile -d '' "SQL_$name" < <(awk '/^[[:space:]]*--/ || /^[[:space:]]*$/ { if (s == "") next }
        { s = s $0 "\n" } /;[[:space:]]*$/ { printf "%s%c", s, 0; s = "" }
        END { if (s ~ /[^[:space:]]/) printf "%s%c", s, 0 }' "$OUT/$name.sql")
    local -n arr="SQL_$name"
    ((${#arr[@]} > 0)) || die "no SQL statements in $OUT/$name.sql"
}

# run_sql LOG NAME OUTDIR — time NAME's statements through duckq, in one
# process, into a fresh OUTDIR.
run_sql() {
    local log=$1 name=$2 dir=$3
    local -n arr="SQL_$name"
    rm -rf "$dir"
    mkdir -p "$dir/tmp" "$dir/bronze" "$dir/silver" "$dir/gold" "$dir/quarantine"
    # a hand-written pipeline unzips the point-of-sale feed first: timed too
    timed "$log" bash -c 'unzip -q -o "$1" -d "$2" && shift 2 && exec "$@"' _ \
        "$(ls "$PROJ"/incoming/orders_pos/*.zip)" "$dir/pos" "$DUCKQ" "${arr[@]}"
}

NOBRONZE=$OUT/handwritten_nobronze
prepare_sql b "$HAND" settings bronze-write silver gold
prepare_sql b2 "$NOBRONZE" settings bronze-read silver gold

# median of the arguments

# --- a, b, b': interleaved, REPEAT times each ----------------------------------------
A_T=() A_K=() B_T=() B_K=() B2_T=() B2_K=()
for ((r = 1; r <= REPEAT; r++)); do
    echo "-- round $r of $REPEAT"
    rm -rf "$PROJ/lake" "$PROJ/.smelt"
    timed "a$r" "$SMELT" -C "$PROJ" run --format csv
    check_summary "a$r"
    A_T+=("$SECS") A_K+=("$RSS_KB")
    printf '   %-48s %6s s %6s MB\n' "(a)  smelt run, empty lake" "$SECS" "$RSS_MB"
    run_sql "b$r" b "$HAND"
    B_T+=("$SECS") B_K+=("$RSS_KB")
    printf '   %-48s %6s s %6s MB\n' "(b)  hand-written SQL, incl. bronze write" "$SECS" "$RSS_MB"
    run_sql "b2_$r" b2 "$NOBRONZE"
    B2_T+=("$SECS") B2_K+=("$RSS_KB")
    printf '   %-48s %6s s %6s MB\n' "(b') hand-written SQL, no bronze write" "$SECS" "$RSS_MB"
done
A_S=$(median "${A_T[@]}") A_KB=$(median "${A_K[@]}")
B_S=$(median "${B_T[@]}") B_KB=$(median "${B_K[@]}")
B2_S=$(median "${B2_T[@]}") B2_KB=$(median "${B2_K[@]}")
A_MB=$(mb "$A_KB") B_MB=$(mb "$B_KB") B2_MB=$(mb "$B2_KB")
# The (a) run closest to the median: its task breakdown goes in the report.
A_MED=$(for ((r = 1; r <= REPEAT; r++)); do echo "${A_T[$((r - 1))]} $r"; done |
    awk -v m="$A_S" '{ d = $1 - m; if (d < 0) d = -d; if (best == "" || d < best) { best = d; r = $2 } } END { print r }')
A_MED_S=${A_T[$((A_MED - 1))]}

# Same results? Compare (b)'s tables with the lake (a) wrote, row by row
# (EXCEPT ALL both ways; bronze on its declared columns only). The lake has one
# version of each table here, so every Parquet file under it is current.
echo "-- checking that (b) computed what (a) did ..."
L=$PROJ/lake
H=$HAND
cmp_sql() { # NAME SMELT_SELECT HAND_SELECT
    printf "SELECT '%s' AS t, (SELECT count(*) FROM (%s)) AS a_rows, (SELECT count(*) FROM (%s)) AS b_rows,
        (SELECT count(*) FROM ((%s) EXCEPT ALL (%s))) + (SELECT count(*) FROM ((%s) EXCEPT ALL (%s))) AS diff" \
        "$1" "$2" "$3" "$2" "$3" "$3" "$2"
}
pq() { echo "SELECT $2 FROM read_parquet('$1', hive_partitioning = true)"; }
BO="order_id, line_no, order_ts, updated_at, status, customer_id, store_id, product_id, quantity, unit_price"
SO="order_id, line_no, order_ts, CAST(order_date AS DATE), updated_at, status, customer_id, store_id, product_id, quantity, unit_price, line_amount"
GD="CAST(day AS DATE), store_id, store_name, region, revenue, orders, units"
checks=(
    "$(cmp_sql bronze.orders "$(pq "$L/bronze/orders/*.parquet" "$BO")" "$(pq "$H/bronze/orders.parquet" "$BO")")"
    "$(cmp_sql bronze.orders_pos "$(pq "$L/bronze/orders_pos/*.parquet" "$BO")" "$(pq "$H/bronze/orders_pos.parquet" "$BO")")"
    "$(cmp_sql bronze.customers "$(pq "$L/bronze/customers/*.parquet" "customer_id, name, email, city, signup_date, updated_at")" "$(pq "$H/bronze/customers.parquet" "customer_id, name, email, city, signup_date, updated_at")")"
    "$(cmp_sql silver.orders "$(pq "$L/silver/orders/*/*.parquet" "$SO")" "$(pq "$H/silver/orders/*/*.parquet" "$SO")")"
    "$(cmp_sql silver.customers "$(pq "$L/silver/customers/*.parquet" "*")" "$(pq "$H/silver/customers.parquet" "*")")"
    "$(cmp_sql silver.products "$(pq "$L/silver/products/*.parquet" "*")" "$(pq "$H/silver/products.parquet" "*")")"
    "$(cmp_sql silver.stores "$(pq "$L/silver/stores/*.parquet" "*")" "$(pq "$H/silver/stores.parquet" "*")")"
    "$(cmp_sql gold.daily_sales "$(pq "$L/gold/daily_sales/*/*.parquet" "$GD")" "$(pq "$H/gold/daily_sales/*/*.parquet" "$GD")")"
    "$(cmp_sql gold.customer_lifetime_value "$(pq "$L/gold/customer_lifetime_value/*.parquet" "*")" "$(pq "$H/gold/customer_lifetime_value.parquet" "*")")"
    "$(cmp_sql gold.product_performance "$(pq "$L/gold/product_performance/*.parquet" "*")" "$(pq "$H/gold/product_performance.parquet" "*")")"
)
union=$(printf '%s UNION ALL ' "${checks[@]}")
q "SET threads = $THREADS" "SELECT * FROM (${union% UNION ALL }) ORDER BY t" >"$LOGS/compare.csv" ||
    die "comparing (a) and (b) failed: $(cat "$LOGS/compare.csv")"
if awk -F, 'NR > 1 && ($4 != 0 || $2 != $3) { bad = 1 } END { exit !bad }' "$LOGS/compare.csv"; then
    echo "pipeline.sh: (b) does not compute what smelt computes (table, a_rows, b_rows, differing rows):" >&2
    cat "$LOGS/compare.csv" >&2
    exit 1
fi
echo "   all 10 tables equal ($(awk -F, '$1 == "silver.orders" { print $2 }' "$LOGS/compare.csv") silver.orders rows)"

# --- c. no-change rerun --------------------------------------------------------
echo "-- (c) smelt run, nothing new, $REPEAT times ..."
C_T=() C_K=()
for ((r = 1; r <= REPEAT; r++)); do
    timed "c$r" "$SMELT" -C "$PROJ" run --format csv
    check_summary "c$r"
    awk -F, 'NR > 1 && $1 !~ /^landing\./ && $2 != "skipped" { bad = 1 } END { exit bad }' "$LOGS/c$r.out" ||
        die "(c) was not a no-op:
$(cat "$LOGS/c$r.out")"
    C_T+=("$SECS") C_K+=("$RSS_KB")
    printf '   %-48s %6s s %6s MB\n' "(c)  smelt run, no change" "$SECS" "$RSS_MB"
done
C_S=$(median "${C_T[@]}") C_MB=$(mb "$(median "${C_K[@]}")")

# --- d. one more day -------------------------------------------------------------
# Each round starts from the state after (a) and (c): a copy of the project.
echo "-- (d) smelt run after $EXTRA_NAME arrives, $REPEAT times ..."
SNAP=$OUT/project_before_d
rm -rf "$SNAP"
cp -a "$PROJ" "$SNAP"
D_T=() D_K=()
for ((r = 1; r <= REPEAT; r++)); do
    if ((r > 1)); then
        rm -rf "$PROJ"
        cp -a "$SNAP" "$PROJ"
    fi
    cp "$EXTRA" "$ORDERS_DIR/"
    timed "d$r" "$SMELT" -C "$PROJ" run --format csv
    check_summary "d$r"
    [[ $(task_field "d$r" landing.orders rows_out) == 1 ]] || die "(d) did not land exactly the new file:
$(cat "$LOGS/d$r.out")"
    D_T+=("$SECS") D_K+=("$RSS_KB")
    printf '   %-48s %6s s %6s MB\n' "(d)  smelt run, +1 day" "$SECS" "$RSS_MB"
done
D_S=$(median "${D_T[@]}") D_MB=$(mb "$(median "${D_K[@]}")")
rm -rf "$OUT/project_d"
cp -a "$PROJ" "$OUT/project_d"
D_MED=$(for ((r = 1; r <= REPEAT; r++)); do echo "${D_T[$((r - 1))]} $r"; done |
    sort -g | awk -v m=$(((REPEAT + 1) / 2)) 'NR == m { print $2 }')

# --- e. the same day with --full-refresh -----------------------------------------
# What (d) saves: every model rebuilt in full after the same new file.
echo "-- (e) smelt run --full-refresh after $EXTRA_NAME arrives, $REPEAT times ..."
E_T=() E_K=()
for ((r = 1; r <= REPEAT; r++)); do
    rm -rf "$PROJ"
    cp -a "$SNAP" "$PROJ"
    cp "$EXTRA" "$ORDERS_DIR/"
    timed "e$r" "$SMELT" -C "$PROJ" run --full-refresh --format csv
    check_summary "e$r"
    E_T+=("$SECS") E_K+=("$RSS_KB")
    printf '   %-48s %6s s %6s MB\n' "(e)  smelt run --full-refresh, +1 day" "$SECS" "$RSS_MB"
done
E_S=$(median "${E_T[@]}") E_MB=$(mb "$(median "${E_K[@]}")")
rm -rf "$SNAP"
# The incremental result must be the full refresh's, row for row.
for t in silver.orders gold.daily_sales gold.customer_lifetime_value; do
    a=$("$SMELT" -C "$OUT/project_d" query --format csv "SELECT * FROM $t ORDER BY ALL" | md5sum)
    b=$("$SMELT" -C "$PROJ" query --format csv "SELECT * FROM $t ORDER BY ALL" | md5sum)
    [[ $a == "$b" ]] || die "(d) and (e) differ in $t"
done
echo "   (d) and (e) give equal silver.orders, gold.daily_sales, gold.customer_lifetime_value"
rm -rf "$OUT/project_d"

# --- report ----------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
meets() { awk -v v="$1" -v g="$2" 'BEGIN { print (v != "n/a" && v + 0 <= g + 0) ? "yes" : "NO" }'; }
T_AB=$(ratio "$A_S" "$B_S")
M_AB=$(ratio "$A_KB" "$B_KB")
T_AB2=$(ratio "$A_S" "$B2_S")
T_AB_MIN=$(ratio "$(minimum "${A_T[@]}")" "$(minimum "${B_T[@]}")")
T_AB2_MIN=$(ratio "$(minimum "${A_T[@]}")" "$(minimum "${B2_T[@]}")")
M_AB2=$(ratio "$A_KB" "$B2_KB")
{
    echo
    echo "smelt pipeline benchmark  ROWS=$ROWS DAYS=$DAYS SEED=$SEED  $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "$(nproc) CPUs, load average $LOAD_BEFORE before, $(cut -d' ' -f1-3 /proc/loadavg) after; smelt.yml threads=$THREADS memory_limit=$MEMORY_LIMIT"
    echo
    echo "median (and fastest) of $REPEAT runs each; all wall times in brackets"
    row() { printf '%-48s %7s %7s %8s   [%s]\n' "$@"; }
    row step "wall s" "(min)" "RSS MB" "runs, s"
    row "(a)  smelt run, empty lake" "$A_S" "($(minimum "${A_T[@]}"))" "$A_MB" "${A_T[*]}"
    row "(b)  hand-written DuckDB SQL, incl. bronze write" "$B_S" "($(minimum "${B_T[@]}"))" "$B_MB" "${B_T[*]}"
    row "(b') hand-written DuckDB SQL, no bronze write" "$B2_S" "($(minimum "${B2_T[@]}"))" "$B2_MB" "${B2_T[*]}"
    row "(c)  smelt run, no change" "$C_S" "($(minimum "${C_T[@]}"))" "$C_MB" "${C_T[*]}"
    row "(d)  smelt run, +1 day ($EXTRA_NAME)" "$D_S" "($(minimum "${D_T[@]}"))" "$D_MB" "${D_T[*]}"
    row "(e)  smelt run --full-refresh, +1 day" "$E_S" "($(minimum "${E_T[@]}"))" "$E_MB" "${E_T[*]}"
    echo
    printf '%-30s %7s %7s   %-8s %s\n' "measure (medians)" value "(min)" goal met
    printf '%-30s %7s %7s   %-8s %s\n' "time a/b" "$T_AB" "($T_AB_MIN)" "<= 1.5" "$(meets "$T_AB" 1.5)"
    printf '%-30s %7s %7s   %-8s %s\n' "RSS(a)/RSS(b)" "$M_AB" "" "<= 1.5" "$(meets "$M_AB" 1.5)"
    printf '%-30s %7s %7s   %-8s %s\n' "(c) wall s" "$C_S" "($(minimum "${C_T[@]}"))" "<= 0.2" "$(meets "$C_S" 0.2)"
    printf '%-30s %7s %7s   %-8s %s\n' "(d) wall s" "$D_S" "($(minimum "${D_T[@]}"))" "<= 1.0" "$(meets "$D_S" 1.0)"
    printf '%-30s %7s %7s   %-8s %s\n' "(e)/(d) speed-up" "$(ratio "$E_S" "$D_S")" "" ">= 10" "$(awk -v v="$(ratio "$E_S" "$D_S")" 'BEGIN { print (v + 0 >= 10) ? "yes" : "NO" }')"
    printf '%-30s %7s %7s   %-8s %s\n' "time a/b' (no bronze write)" "$T_AB2" "($T_AB2_MIN)" "-" "(for reference)"
    printf '%-30s %7s %7s   %-8s %s\n' "RSS(a)/RSS(b')" "$M_AB2" "" "-" "(for reference)"
    echo
    echo "(b) includes writing bronze (and the rejected lines) as Parquet, since smelt materializes"
    echo "bronze; (b') skips that: silver reads the raw files. (b) reads only the readable order files;"
    echo "(a) also checks each .gz (and quarantines the truncated one), lands copies and writes Delta logs."
    echo
    echo "slowest tasks of (a), from smelt's summary of its median run (a$A_MED: $A_MED_S s)"
    tail -n +2 "$LOGS/a$A_MED.out" | awk -F, '{ printf "%s %s %s\n", $6, $1, $4 }' | sort -rg | head -n "$TOP" |
        awk -v tot="$A_MED_S" '{ printf "  %-32s %7.3f s %5.1f%%  rows_out %s\n", $2, $1, (tot > 0 ? 100 * $1 / tot : 0), $3 }'
    tail -n +2 "$LOGS/a$A_MED.out" | awk -F, -v tot="$A_MED_S" '{ s += $6 }
        END { printf "  %-32s %7.3f s %5.1f%%  (the rest: start-up, planning, state, commits)\n", "all tasks", s, (tot > 0 ? 100 * s / tot : 0) }'
    echo
    echo "tasks of (d), from smelt's summary of its median run (d$D_MED: $D_S s)"
    tail -n +2 "$LOGS/d$D_MED.out" | awk -F, '$2 != "skipped" { printf "%s %s %s\n", $6, $1, $7 }' | sort -rg | head -n "$TOP" |
        awk '{ t = $1; n = $2; $1 = $2 = ""; printf "  %-32s %7.3f s  %s\n", n, t, substr($0, 3) }'
} | tee "$OUT/results.txt"
{
    echo "step,wall_s_median,wall_s_min,peak_rss_mb_median,runs_s"
    echo "a,$A_S,$(minimum "${A_T[@]}"),$A_MB,${A_T[*]}"
    echo "b,$B_S,$(minimum "${B_T[@]}"),$B_MB,${B_T[*]}"
    echo "b_nobronze,$B2_S,$(minimum "${B2_T[@]}"),$B2_MB,${B2_T[*]}"
    echo "c,$C_S,$(minimum "${C_T[@]}"),$C_MB,${C_T[*]}"
    echo "d,$D_S,$(minimum "${D_T[@]}"),$D_MB,${D_T[*]}"
    echo "e,$E_S,$(minimum "${E_T[@]}"),$E_MB,${E_T[*]}"
} >"$OUT/results.csv"
echo
echo "logs and per-step output in $LOGS; results in $OUT/results.txt and results.csv"
