#!/bin/sh
# End to end: an incremental merge of a few keys reads and rewrites only
# what can hold them. A model (unique_key id, partition_by day) over DAYS
# daily files, ids in day order; 10 upserted rows (7 updates on 3 days, 3 new
# ids on a new day) must rewrite exactly those 3 days' files, and the whole
# run must read (bytes through read(2), /proc/PID/io rchar) far less than
# the input table: the keys are pushed into the Parquet scans as filters.
# With NULL keys too, the merged table equals a full refresh.
. "$(dirname "$0")/lib.sh"

# 2M rows: bronze is one file of 17 row groups, 3 of which hold a key (one
# thread, so that its row groups hold ids in order)
ROWS=2000000 DAYS=100
P="$WORK/p"
mkdir -p "$P/sources" "$P/models/silver" "$P/incoming/events"
printf 'name: merge\ndefaults:\n  threads: 1\n  memory_limit: 256MB\n' > "$P/smelt.yml"
printf 'kind: files\npath: incoming/events\nglob: "*.parquet"\nformat: parquet\n' > "$P/sources/events.yml"
cat > "$P/models/silver/events.sql" <<'EOF'
SELECT id, day, status, amount, updated_at
FROM bronze.events
QUALIFY row_number() OVER (PARTITION BY id ORDER BY updated_at DESC) = 1
EOF
printf 'materialized: incremental\nincremental_strategy: merge\nunique_key: id\npartition_by: day\n' \
    > "$P/models/silver/events.yml"

# one file per day, ids in day order; strings that do not compress away
DAY_OF="DATE '2025-01-01' + CAST(id * $DAYS // $ROWS AS INTEGER)"
duck "SET partitioned_write_max_open_files = 1000" "COPY (SELECT id, $DAY_OF AS day, md5(CAST(id AS VARCHAR)) AS status,
    CAST(id % 1000 AS DECIMAL(12,2)) AS amount, TIMESTAMP '2025-01-01' + to_seconds(id) AS updated_at
    FROM range($ROWS) t(id)) TO '$WORK/gen' (FORMAT parquet, PARTITION_BY (day), WRITE_PARTITION_COLUMNS true)" > /dev/null
for d in "$WORK"/gen/day=*; do mv "$d/data_0.parquet" "$P/incoming/events/e_${d##*/day=}.parquet"; done
"$SMELT" -C "$P" run --format csv > "$WORK/r0.out" 2>&1
check_eq "first run exits 0" 0 $?

# upsert FILE IDS... — a Parquet file of upserted rows (status 'upserted')
upsert() {
    f=$1
    shift
    duck "COPY (SELECT CAST(id AS BIGINT) AS id, CASE WHEN id IS NULL OR id >= $ROWS THEN DATE '2025-01-01' + $DAYS ELSE $DAY_OF END AS day,
        'upserted' AS status, CAST(1.5 AS DECIMAL(12,2)) AS amount, TIMESTAMP '2026-01-01' + to_seconds(coalesce(id, 0) % 7) AS updated_at
        FROM (SELECT unnest([$*]) AS id)) TO '$P/incoming/events/$f.parquet' (FORMAT parquet)" > /dev/null
}
# the first id of day D, plus OFFSET
id_of() { echo $(((($1 * ROWS) + DAYS - 1) / DAYS + $2)); }
note_of() { grep "^$2," "$1" | cut -d, -f7- | tr -d '"'; }
# run_io LABEL — smelt run; prints the KB it read through read(2)
run_io() {
    python3 - "$SMELT" "$P" "$WORK/$1.out" <<'EOF'
import os, subprocess, sys
with open(sys.argv[3], 'w') as out:
    p = subprocess.Popen([sys.argv[1], '-C', sys.argv[2], 'run', '--format', 'csv'], stdout=out, stderr=subprocess.STDOUT)
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: /proc/PID/io is still there
    io = dict(l.split(': ') for l in open('/proc/%d/io' % p.pid).read().splitlines())
    print(p.wait(), int(io['rchar']) // 1024)
EOF
}
compare_full() { # LABEL
    rm -rf "$WORK/full"
    cp -a "$P" "$WORK/full"
    "$SMELT" -C "$WORK/full" run --full-refresh --format csv > "$WORK/full.out" 2>&1
    smelt_q "$P" "SELECT * FROM silver.events ORDER BY id NULLS FIRST, updated_at" | md5sum > "$WORK/inc.md5"
    smelt_q "$WORK/full" "SELECT * FROM silver.events ORDER BY id NULLS FIRST, updated_at" | md5sum > "$WORK/ref.md5"
    check_files_eq "$1: merged table == full refresh" "$WORK/ref.md5" "$WORK/inc.md5"
}

bronze_kb=$(du -sk "$P/lake/bronze/events" | cut -f1)
upsert u1 "$(id_of 10 0), $(id_of 10 5), $(id_of 50 0), $(id_of 50 7), $(id_of 50 9), $(id_of 90 1), $(id_of 90 3), $ROWS, $((ROWS + 1)), $((ROWS + 2))"
read -r rc kb <<EOF
$(run_io m1)
EOF
check_eq "merge run exits 0" 0 "$rc"
check_eq "10 keys: only the 3 days that hold them are rewritten" "10 keys changed: 3 of $DAYS files rewritten" \
    "$(note_of "$WORK/m1.out" silver.events)"
# Before the keys were pushed into the scans, the run read every column of
# every bronze row (more than bronze_kb); now it reads the row groups that
# can hold a key (3 of 17: about 20%) and the 3 days' files
check_eq "the merge reads less than 40% of bronze ($bronze_kb KB)" "yes" \
    "$(awk -v k="$kb" -v b="$bronze_kb" 'BEGIN { print (k < 0.4 * b) ? "yes" : "no: read " k " KB" }')"
check_eq "merged rows: $ROWS + 3 new, 10 upserted" "$((ROWS + 3)),10" \
    "$(smelt_q "$P" "SELECT count(*), count(*) FILTER (status = 'upserted') FROM silver.events" | tail -1)"
compare_full "10 upserts"

# NULL keys: a NULL id is a key of its own (the joins match NULL to NULL)
upsert u2 "NULL, $(id_of 20 0)"
"$SMELT" -C "$P" run --format csv > "$WORK/m2.out" 2>&1
check_contains "a NULL key merges" "2 keys changed" "$(note_of "$WORK/m2.out" silver.events)"
compare_full "a NULL key"
upsert u3 "NULL, $(id_of 20 0), $(id_of 30 0)"
"$SMELT" -C "$P" run --format csv > "$WORK/m3.out" 2>&1
check_contains "a NULL key again" "3 keys changed" "$(note_of "$WORK/m3.out" silver.events)"
check_eq "one row for the NULL key" "1" "$(smelt_q "$P" "SELECT count(*) FROM silver.events WHERE id IS NULL" | tail -1)"
compare_full "a NULL key again"

done_testing
