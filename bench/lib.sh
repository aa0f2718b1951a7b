# bench/lib.sh — what the benchmark scripts share. Sourced by them (bash).

# The repository, and what the scripts run (a script may set them again).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SMELT=${SMELT:-$ROOT/build/smelt}
DUCKQ=${DUCKQ:-$ROOT/build/duckq}
TIME=/usr/bin/time

# The order lines bench/ingest.sh and bench/bigfile.sh generate: their
# columns for DuckDB's readers, and as a source's YAML.
ORDER_COLS="{'order_id':'BIGINT','line_no':'INTEGER','order_ts':'TIMESTAMP','status':'VARCHAR','customer_id':'BIGINT','store_id':'INTEGER','product_id':'INTEGER','quantity':'INTEGER','unit_price':'DECIMAL(10,2)','note':'VARCHAR'}"
ORDER_YAML='columns:
  order_id: BIGINT
  line_no: INTEGER
  order_ts: TIMESTAMP
  status: VARCHAR
  customer_id: BIGINT
  store_id: INTEGER
  product_id: INTEGER
  quantity: INTEGER
  unit_price: DECIMAL(10,2)
  note: VARCHAR'

# die MESSAGE — print "SCRIPT: MESSAGE" on stderr and stop.
die() {
    echo "${0##*/}: $*" >&2
    exit 1
}

# need_binaries — stop unless $SMELT and $TIME (GNU time) are there; build
# $DUCKQ when it is missing.
need_binaries() {
    [[ -x $SMELT ]] || die "$SMELT is missing: build it first with 'make -C $ROOT build/smelt'"
    [[ -x $TIME ]] || die "$TIME is missing (GNU time; apt-get install time)"
    if [[ ! -x $DUCKQ ]]; then
        echo "building build/duckq ..."
        make -s -C "$ROOT" build/duckq >/dev/null || die "$DUCKQ is missing and 'make build/duckq' failed"
    fi
}

# pin_binaries — copy $SMELT and $DUCKQ into $OUT/bin and time the copies
# from then on: build/smelt may be rebuilt by someone else mid-run. Sets
# LOGS=$OUT/logs (made, with $OUT/bin).
pin_binaries() {
    mkdir -p "$OUT/logs" "$OUT/bin"
    cp "$SMELT" "$OUT/bin/smelt"
    cp "$DUCKQ" "$OUT/bin/duckq"
    SMELT=$OUT/bin/smelt
    DUCKQ=$OUT/bin/duckq
    LOGS=$OUT/logs
}

# check_summary NAME — smelt's summary (--format csv) of step NAME, in
# $LOGS/NAME.out: stop if it is missing or a task failed.
check_summary() {
    local f=$LOGS/$1.out
    [[ -s $f ]] || die "step $1: smelt printed no summary (see $LOGS/$1.err)"
    if awk -F, 'NR > 1 && $2 != "success" && $2 != "skipped" { bad = 1 } END { exit !bad }' "$f"; then
        die "step $1: a task did not succeed:
$(cat "$f")"
    fi
}

# timed NAME CMD... — run CMD under $TIME (GNU time), its stdout and stderr
# in $LOGS/NAME.out and .err; sets SECS (wall), RSS_KB and RSS_MB (peak).
# Stops the script, with the end of the logs, if CMD fails.
timed() {
    local name=$1
    shift
    local tf=$LOGS/$name.time
    if ! "$TIME" -f '%e %M' -o "$tf" "$@" >"$LOGS/$name.out" 2>"$LOGS/$name.err"; then
        tail -n 20 "$LOGS/$name.err" "$LOGS/$name.out" >&2
        die "step $name failed: $*"
    fi
    read -r SECS RSS_KB < <(tail -n 1 "$tf")
    RSS_MB=$(awk -v k="$RSS_KB" 'BEGIN { printf "%.0f", k / 1024 }')
}

# median N... / minimum N... — of the numbers given; mb KB — in MB, whole.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
    else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minimum() { printf '%s\n' "$@" | sort -g | head -n 1; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
