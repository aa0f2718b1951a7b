#!/bin/sh
# End to end: `smelt query` output formats (csv, json, table, the default off
# a terminal), time travel with --as-of (checked against the Parquet files of
# version 0 read by DuckDB directly), errors and exit statuses, and the
# top-level CLI (--help, unknown commands, version).
. "$(dirname "$0")/lib.sh"

if [ "$SAN" = 1 ]; then ROWS=3000 DAYS=8; else ROWS=20000 DAYS=10; fi
P="$WORK/shop"
q() { "$SMELT" -C "$P" query "$@"; }

"$SMELT" init "$P" --rows "$ROWS" --days "$DAYS" > /dev/null 2>&1
check_eq "init exits 0" 0 $?
"$SMELT" -C "$P" run > "$WORK/run1.out" 2> "$WORK/run1.err"
check_eq "run exits 0" 0 $?

# ------------------------------------------------------------------- csv
SQL_TYPES="SELECT day, store_id, store_name, revenue, orders, CAST(NULL AS INTEGER) AS nothing, 'a\"b,c' AS tricky, 'x' || chr(10) || 'y' AS nl FROM gold.daily_sales ORDER BY day, store_id LIMIT 5"
q --format csv "$SQL_TYPES" > "$WORK/t.csv" 2> "$WORK/t.err"
check_eq "--format csv exits 0" 0 $?
r=$(python3 - "$WORK/t.csv" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='')))
bad = []
if rows[0] != ['day', 'store_id', 'store_name', 'revenue', 'orders', 'nothing', 'tricky', 'nl']: bad.append('header %r' % rows[0])
if len(rows) != 6: bad.append('%d data rows' % (len(rows) - 1))
for r in rows[1:]:
    if len(r) != 8: bad.append('row %r' % r); continue
    if r[5] != '': bad.append('NULL as %r' % r[5])
    if r[6] != 'a"b,c': bad.append('quoting: %r' % r[6])
    if r[7] != 'x\ny': bad.append('newline: %r' % r[7])
    try: float(r[3]); int(r[1]); int(r[4])
    except ValueError: bad.append('numbers %r' % r)
print(' '.join(bad))
EOF
)
check_eq "--format csv: header, 5 rows, RFC 4180 quoting, NULL empty" "" "$r"
e=$(duck "SELECT count(*) AS n FROM read_csv('$WORK/t.csv', header=true, all_varchar=true)" | tail -1)
check_eq "--format csv: DuckDB's own CSV reader reads 5 rows back" 5 "$e"

# default format off a terminal is csv
q "$SQL_TYPES" > "$WORK/t.default" 2>&1 < /dev/null
check_files_eq "default format (stdout not a terminal) is csv" "$WORK/t.csv" "$WORK/t.default"
q "$SQL_TYPES" 2>&1 < /dev/null | cat > "$WORK/t.pipe"
check_files_eq "default format (stdout a pipe) is csv" "$WORK/t.csv" "$WORK/t.pipe"

# ------------------------------------------------------------------ json
q --format json "$SQL_TYPES" > "$WORK/t.json" 2> "$WORK/t.err"
check_eq "--format json exits 0" 0 $?
r=$(python3 - "$WORK/t.json" "$WORK/t.csv" <<'EOF'
import csv, json, sys
def no_const(c): raise ValueError('non-JSON constant ' + c)
try: doc = json.load(open(sys.argv[1]), parse_constant=no_const)
except Exception as e: print('invalid JSON: %r' % e); sys.exit()
rows = list(csv.reader(open(sys.argv[2], newline='')))[1:]
bad = []
if not isinstance(doc, list) or len(doc) != 5: bad.append('not a list of 5: %r' % doc)
for o, c in zip(doc, rows):
    if list(o) != ['day', 'store_id', 'store_name', 'revenue', 'orders', 'nothing', 'tricky', 'nl']: bad.append('keys %r' % list(o))
    for k in ('store_id', 'orders'):
        if type(o.get(k)) is not int: bad.append('%s not an integer: %r' % (k, o.get(k)))
    if type(o.get('revenue')) not in (int, float): bad.append('revenue not a number: %r' % o.get('revenue'))
    elif abs(o['revenue'] - float(c[3])) > 0.005: bad.append('revenue %r vs csv %s' % (o['revenue'], c[3]))
    if o.get('nothing', 0) is not None: bad.append('NULL as %r' % o.get('nothing'))
    if o.get('tricky') != 'a"b,c' or o.get('nl') != 'x\ny': bad.append('strings %r %r' % (o.get('tricky'), o.get('nl')))
    if o.get('day') != c[0] or o.get('store_name') != c[2]: bad.append('day/store_name %r %r vs csv %r' % (o.get('day'), o.get('store_name'), c[:3]))
print(' '.join(bad[:5]))
EOF
)
check_eq "--format json: valid JSON, numbers are numbers, NULL is null, strings escaped" "" "$r"
q --format json "SELECT 1 AS a WHERE false" > "$WORK/empty.json"
r=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])))' "$WORK/empty.json" 2>&1)
check_eq "--format json: empty result is []" "[]" "$r"
q --format json "SELECT CAST('nan' AS DOUBLE) AS a, CAST('inf' AS DOUBLE) AS b, chr(1) || chr(9) || '\\' AS c" > "$WORK/odd.json"
r=$(python3 -c '
import json, sys
def no_const(c): raise ValueError("non-JSON constant " + c)
try: json.load(open(sys.argv[1]), parse_constant=no_const); print("valid")
except Exception as e: print(repr(e))' "$WORK/odd.json" 2>&1)
check_eq "--format json: NaN, Infinity and control characters still give valid JSON" valid "$r"

# ----------------------------------------------------------------- table
SQL_TABLE="SELECT customer_id, name, city, CAST(NULL AS VARCHAR) AS nothing, revenue FROM gold.customer_lifetime_value ORDER BY revenue DESC, customer_id LIMIT 20"
q --format table "$SQL_TABLE" > "$WORK/t.table" 2> "$WORK/t.err"
check_eq "--format table exits 0" 0 $?
r=$(python3 - "$WORK/t.table" <<'EOF'
import sys
lines = open(sys.argv[1], encoding='utf-8').read().rstrip('\n').split('\n')
body = [l for l in lines if not set(l) <= set('-+ ') and not (l.startswith('(') and l.endswith(')'))]
seps = [l for l in lines if set(l) <= set('-+ ') and l]
pos = lambda l, ch: [i for i, c in enumerate(l) if c == ch]
bad = []
if len(body) != 21: bad.append('%d header+body lines, want 21' % len(body))
want = pos(body[0], '|') if body else []
if len(want) != 4: bad.append('header has %d separators: %r' % (len(want), body[0] if body else None))
for l in body[1:]:
    if pos(l, '|') != want: bad.append('misaligned: %r' % l)
for l in seps:
    if pos(l, '+') != want: bad.append('rule misaligned: %r' % l)
if [c.strip() for c in body[0].split('|')] != ['customer_id', 'name', 'city', 'nothing', 'revenue']: bad.append('header %r' % body[0])
print(' | '.join(bad[:3]))
EOF
)
check_eq "--format table: every line has its '|' at the same positions (accented names included)" "" "$r"
n=$(q --format csv "SELECT count(*) AS n FROM gold.customer_lifetime_value WHERE regexp_matches(name, '[^\\x00-\\x7f]')" | tail -1)
[ "${n:-0}" -gt 0 ] && ok "there are non-ASCII customer names to align ($n)" || not_ok "there are non-ASCII customer names to align" "$n"

# --------------------------------------------------------------- --as-of
V0=$(q --format csv "SELECT count(*) AS n, sum(line_amount) AS amt, sum(quantity) AS q FROM silver.orders")
V0_DS=$(q --format csv "SELECT count(*) AS n, sum(revenue) AS r FROM gold.daily_sales")
# a second build: a new day's file with two known lines (written by hand)
last=$(ls "$P"/incoming/orders/orders_*.csv.gz | sort | tail -1)
last=$(basename "$last" .csv.gz)
D=$(duck "SELECT CAST(DATE '${last#orders_}' + 1 AS VARCHAR) AS d" | tail -1)
{
    echo "order_id,line_no,order_ts,updated_at,status,customer_id,store_id,product_id,quantity,unit_price"
    echo "9100001,1,$D 09:00:00,$D 09:30:00,placed,3,2,20,4,10.25"
    echo "9100001,2,$D 09:00:00,$D 09:30:00,placed,3,2,21,1,3.50"
} | gzip -n > "$P/incoming/orders/orders_$D.csv.gz"
"$SMELT" -C "$P" run > "$WORK/run2.out" 2> "$WORK/run2.err"
check_eq "second run (one new file) exits 0" 0 $?
nv=$(ls "$P/lake/silver/orders/_delta_log" | grep -c '\.json$')
check_eq "silver.orders now has 2 versions" 2 "$nv"

e=$(python3 - "$V0" <<'EOF'
import sys
h, v = sys.argv[1].split('\n')
n, amt, qty = v.split(',')
from decimal import Decimal
print('n,amt,q'); print('%d,%s,%d' % (int(n) + 2, Decimal(amt) + Decimal('44.50'), int(qty) + 5))
EOF
)
check_eq "latest silver.orders == version 0 + the 2 new lines" "$e" \
    "$(q --format csv "SELECT count(*) AS n, sum(line_amount) AS amt, sum(quantity) AS q FROM silver.orders")"
A0=$(q --format csv --as-of 0 "SELECT count(*) AS n, sum(line_amount) AS amt, sum(quantity) AS q FROM silver.orders" 2> "$WORK/asof.err")
check_eq "--as-of 0 on silver.orders == what the first run showed" "$V0" "$A0"
A0b=$(q --as-of 0 --format csv "SELECT count(*) AS n, sum(line_amount) AS amt, sum(quantity) AS q FROM silver.orders" 2>&1)
check_eq "--as-of 0 before --format works the same" "$V0" "$A0b"
files=$(python3 - "$P/lake/silver/orders" <<'EOF'
import json, os, sys
t = sys.argv[1]
live = {}
for line in open(os.path.join(t, '_delta_log', '00000000000000000000.json')):
    a = json.loads(line)
    if 'add' in a: live[a['add']['path']] = 1
    if 'remove' in a: live.pop(a['remove']['path'], None)
print(','.join("'%s'" % os.path.join(t, p) for p in sorted(live)))
EOF
)
if [ -n "$files" ]; then
    P0=$(duck "SELECT count(*) AS n, sum(line_amount) AS amt, sum(quantity) AS q FROM read_parquet([$files], hive_partitioning=false)")
else
    P0="no files in version 0"
fi
check_eq "--as-of 0 on silver.orders == the Parquet files of 00000000000000000000.json read by DuckDB" "$P0" "$A0"
check_eq "--as-of 0 on gold.daily_sales == what the first run showed" "$V0_DS" \
    "$(q --format csv --as-of 0 "SELECT count(*) AS n, sum(revenue) AS r FROM gold.daily_sales" 2>&1)"
check_eq "--as-of 1 on silver.orders == latest" \
    "$(q --format csv "SELECT count(*) AS n, sum(line_amount) AS amt FROM silver.orders")" \
    "$(q --format csv --as-of 1 "SELECT count(*) AS n, sum(line_amount) AS amt FROM silver.orders" 2>&1)"

q --as-of 99 "SELECT count(*) FROM silver.orders" > "$WORK/o" 2> "$WORK/e"
rc=$?
[ "$rc" -ne 0 ] && ok "--as-of 99 exits non-zero ($rc)" || not_ok "--as-of 99 exits non-zero" "exit 0, stdout: $(cat "$WORK/o")"
err=$(cat "$WORK/e")
check_contains "--as-of 99: stderr names the version" "99" "$err"
check_contains "--as-of 99: stderr says it is about a version" "version" "$err"
check_eq "--as-of 99: nothing on stdout" "" "$(cat "$WORK/o")"
q --as-of -1 "SELECT count(*) FROM silver.orders" > "$WORK/o" 2> "$WORK/e"
rc=$?
[ "$rc" -ne 0 ] && ok "--as-of -1 is refused ($rc)" || not_ok "--as-of -1 is refused" "exit 0, stdout: $(cat "$WORK/o")"
q --as-of abc "SELECT count(*) FROM silver.orders" > "$WORK/o" 2> "$WORK/e"
check_eq "--as-of abc is a usage error (exit 2)" 2 $?

# ---------------------------------------------------------------- errors
q "SELECT * FROM gold.nosuch_table" > "$WORK/o" 2> "$WORK/e"
check_eq "unknown table: exit 1" 1 $?
check_contains "unknown table: stderr names it" "nosuch_table" "$(cat "$WORK/e")"
check_eq "unknown table: nothing on stdout" "" "$(cat "$WORK/o")"
q "SELEC day FROM gold.daily_sales" > "$WORK/o" 2> "$WORK/e"
check_eq "bad SQL: exit 1" 1 $?
check_contains "bad SQL: stderr says syntax error" "syntax error" "$(cat "$WORK/e")"
check_contains "bad SQL: stderr shows the offending token" "SELEC" "$(cat "$WORK/e")"
check_eq "bad SQL: nothing on stdout" "" "$(cat "$WORK/o")"
q "SELECT nosuch_column FROM gold.daily_sales" > "$WORK/o" 2> "$WORK/e"
check_eq "unknown column: exit 1" 1 $?
check_contains "unknown column: stderr names it" "nosuch_column" "$(cat "$WORK/e")"
q --format xml "SELECT 1" > "$WORK/o" 2> "$WORK/e"
check_eq "--format xml: usage error (exit 2)" 2 $?
check_contains "--format xml: stderr names the format" "xml" "$(cat "$WORK/e")"
q > "$WORK/o" 2> "$WORK/e"
check_eq "query without SQL: usage error (exit 2)" 2 $?

# ------------------------------------------------------------------- CLI
"$SMELT" --help > "$WORK/o" 2> "$WORK/e"
check_eq "smelt --help exits 0" 0 $?
check_contains "smelt --help lists query" "query" "$(cat "$WORK/o")"
"$SMELT" query --help > "$WORK/o" 2> "$WORK/e"
check_eq "smelt query --help exits 0" 0 $?
check_contains "smelt query --help documents --as-of" "--as-of" "$(cat "$WORK/o")"
check_contains "smelt query --help documents --format" "--format" "$(cat "$WORK/o")"
"$SMELT" nosuch > "$WORK/o" 2> "$WORK/e"
check_eq "smelt nosuch exits 2" 2 $?
check_contains "smelt nosuch: stderr names the command" "nosuch" "$(cat "$WORK/e")"
"$SMELT" quer > "$WORK/o" 2> "$WORK/e"
check_eq "smelt quer exits 2" 2 $?
check_contains "smelt quer: did you mean" "did you mean" "$(cat "$WORK/e")"
check_contains "smelt quer: suggests query" "query" "$(cat "$WORK/e")"
"$SMELT" version > "$WORK/o" 2> "$WORK/e"
check_eq "smelt version exits 0" 0 $?
dv=$(duck "SELECT version() AS v" | tail -1)
check_contains "smelt version prints DuckDB's version ($dv)" "$dv" "$(cat "$WORK/o")"

done_testing
