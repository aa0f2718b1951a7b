# bench/lib.sh — what the benchmark scripts share. Sourced by them (bash).

# die MESSAGE — print "SCRIPT: MESSAGE" on stderr and stop.
die() {
    echo "${0##*/}: $*" >&2
    exit 1
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
