#!/bin/sh
# End to end: `smelt init` + `smelt run` on the example project, then every
# figure checked against an independent computation: gold tables recomputed
# from the raw incoming files with DuckDB (duckq), line conservation
# (incoming = bronze + quarantine) by hand counts, the Delta logs parsed with
# python3's json module, the Parquet files they list read by DuckDB directly,
# and the landing zone compared byte for byte with the incoming files.
. "$(dirname "$0")/lib.sh"

if [ "$SAN" = 1 ]; then ROWS=3000 DAYS=8; else ROWS=20000 DAYS=10; fi
P="$WORK/shop"

# ---------------------------------------------------------------- init + run
"$SMELT" init "$P" --rows "$ROWS" --days "$DAYS" > "$WORK/init.out" 2> "$WORK/init.err"
check_eq "init exits 0" 0 $?
n=$(ls "$P"/incoming/orders/orders_*.csv.gz 2>/dev/null | wc -l)
check_eq "init writes one orders file per day" "$DAYS" "$n"

"$SMELT" -C "$P" run > "$WORK/run.out" 2> "$WORK/run.err"
rc=$?
check_eq "run exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$WORK/run.err" | head -20

# Every task of the project: landing.S and bronze.S per source, zone.M per model.
missing=""
for f in "$P"/sources/*.yml; do
    s=$(basename "$f" .yml)
    for t in "landing.$s" "bronze.$s"; do
        grep -q "^$t," "$WORK/run.out" || missing="$missing $t"
    done
done
for f in "$P"/models/*/*.sql; do
    t="$(basename "$(dirname "$f")").$(basename "$f" .sql)"
    grep -q "^$t," "$WORK/run.out" || missing="$missing $t"
done
check_eq "run summary names every task (landing, bronze, silver, gold)" "" "$missing"
bad=$(tail -n +2 "$WORK/run.out" | awk -F, '$2 != "success" { print $1 "=" $2 }' | tr '\n' ' ')
check_eq "every task of the first run succeeded" "" "$bad"

# A project name smelt itself would reject must not be written by init.
"$SMELT" init "$WORK/My-Shop" --rows 50 --days 2 > /dev/null 2>&1
if [ $? -ne 0 ]; then
    ok "init of a dir whose name is not a valid project name is refused or yields a valid project"
else
    out=$("$SMELT" -C "$WORK/My-Shop" validate 2>&1)
    if [ $? -eq 0 ]; then
        ok "init of a dir whose name is not a valid project name is refused or yields a valid project"
    else
        not_ok "init of a dir whose name is not a valid project name is refused or yields a valid project" \
            "smelt init My-Shop exits 0 but then: $out"
    fi
fi

# ------------------------------------------------- independent gold figures
# The readable orders files (the truncated one fails gzip -t).
good=""
bad_files=""
for f in "$P"/incoming/orders/orders_*.csv.gz; do
    if gzip -t "$f" 2> /dev/null; then good="$good $f"; else bad_files="$bad_files $f"; fi
done
list=""
for f in $good; do list="$list,'$f'"; done
list="[${list#,}]"
ORDER_COLS="{'order_id':'BIGINT','line_no':'INTEGER','order_ts':'TIMESTAMP','updated_at':'TIMESTAMP','status':'VARCHAR','customer_id':'BIGINT','store_id':'INTEGER','product_id':'INTEGER','quantity':'INTEGER','unit_price':'DECIMAL(10,2)'}"
RAW="CREATE TABLE raw AS SELECT * FROM read_csv($list, header=true, delim=',', timestampformat='%Y-%m-%d %H:%M:%S', ignore_errors=true, filename=true, columns=$ORDER_COLS)"
# The in-store (point-of-sale) feed: one zip of daily CSVs, unpacked by python.
mkdir -p "$WORK/pos"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$P"/incoming/orders_pos/pos_*.zip "$WORK/pos"
check_eq "init writes one POS zip holding one CSV per day" "1,$DAYS" \
    "$(ls "$P"/incoming/orders_pos/*.zip | wc -l | tr -d ' '),$(ls "$WORK"/pos/*.csv | wc -l | tr -d ' ')"
POS="CREATE TABLE pos AS SELECT * FROM read_csv('$WORK/pos/*.csv', header=true, delim=',', timestampformat='%Y-%m-%d %H:%M:%S', filename=true, columns=$ORDER_COLS)"
# latest version per (order_id, line_no) over both feeds; later file wins a tie; then quantity > 0
SIL="CREATE TABLE sil AS SELECT *, CAST(order_ts AS DATE) AS order_date, quantity * unit_price AS line_amount FROM (SELECT *, row_number() OVER (PARTITION BY order_id, line_no ORDER BY updated_at DESC, filename DESC) AS rn FROM (SELECT * FROM raw UNION ALL BY NAME SELECT * FROM pos)) WHERE rn = 1 AND quantity > 0"
CUST="CREATE TABLE cust AS SELECT * FROM read_json('$P/incoming/customers/customers.ndjson', format='newline_delimited', columns={'customer_id':'BIGINT','name':'VARCHAR','email':'VARCHAR','city':'VARCHAR','signup_date':'DATE','updated_at':'TIMESTAMP'}) WHERE customer_id IS NOT NULL QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY updated_at DESC) = 1"
PROD="CREATE TABLE prod AS SELECT * FROM read_csv('$P/incoming/products/products.csv', header=true, columns={'product_id':'INTEGER','name':'VARCHAR','category':'VARCHAR','list_price':'DECIMAL(10,2)'}) WHERE product_id IS NOT NULL"
STOR="CREATE TABLE stor AS SELECT * FROM read_csv('$P/incoming/stores/stores.csv', header=true, columns={'store_id':'INTEGER','name':'VARCHAR','city':'VARCHAR','region':'VARCHAR'}) WHERE store_id IS NOT NULL"
# computed once into a DuckDB file, then queried read-only
duck "ATTACH '$WORK/expected.duckdb' AS x" "USE x" "$RAW" "$POS" "$SIL" "$CUST" "$PROD" "$STOR" "SELECT 1 AS one" > /dev/null
xduck() { duck "ATTACH '$WORK/expected.duckdb' AS x (READ_ONLY)" "USE x" "$1"; }

# gold.daily_sales
xduck "SELECT order_date AS day, store_id, CAST(sum(line_amount) AS DECIMAL(18,2)) AS revenue, count(DISTINCT order_id) AS orders, CAST(sum(quantity) AS BIGINT) AS units FROM sil WHERE status <> 'cancelled' GROUP BY 1, 2 ORDER BY 1, 2" > "$WORK/ds.exp"
smelt_q "$P" "SELECT day, store_id, CAST(revenue AS DECIMAL(18,2)) AS revenue, orders, units FROM gold.daily_sales ORDER BY 1, 2" > "$WORK/ds.act"
n=$(wc -l < "$WORK/ds.exp")
[ "$n" -gt 10 ] && ok "independent daily_sales has rows ($n)" || not_ok "independent daily_sales has rows ($n)"
check_files_eq "gold.daily_sales (day, store_id, revenue, orders, units) == recomputation from raw files" "$WORK/ds.exp" "$WORK/ds.act"
HASH_DS="SELECT md5(string_agg(concat_ws('|', day, store_id, coalesce(store_name, '<null>'), coalesce(region, '<null>')), chr(10) ORDER BY day, store_id)) AS h FROM"
e=$(xduck "$HASH_DS (SELECT s.order_date AS day, s.store_id, st.name AS store_name, st.region FROM sil s LEFT JOIN stor st USING (store_id) WHERE s.status <> 'cancelled' GROUP BY ALL)")
a=$(smelt_q "$P" "$HASH_DS gold.daily_sales")
check_eq "gold.daily_sales store_name/region == stores.csv" "$e" "$a"

# gold.customer_lifetime_value
CLV_SQL="SELECT customer_id, min(order_date) AS first_order_date, max(order_date) AS last_order_date, count(DISTINCT order_id) AS orders, CAST(sum(line_amount) AS DECIMAL(18,2)) AS revenue FROM sil WHERE customer_id IS NOT NULL AND status <> 'cancelled' GROUP BY 1"
e=$(xduck "SELECT count(*) AS n, sum(revenue) AS revenue, sum(orders) AS orders FROM ($CLV_SQL)")
a=$(smelt_q "$P" "SELECT count(*) AS n, sum(revenue) AS revenue, sum(orders) AS orders FROM gold.customer_lifetime_value")
check_eq "gold.customer_lifetime_value count, sum(revenue), sum(orders)" "$e" "$a"
xduck "$CLV_SQL ORDER BY 1" > "$WORK/clv.exp"
smelt_q "$P" "SELECT customer_id, first_order_date, last_order_date, orders, CAST(revenue AS DECIMAL(18,2)) AS revenue FROM gold.customer_lifetime_value ORDER BY 1" > "$WORK/clv.act"
check_files_eq "gold.customer_lifetime_value rows == recomputation" "$WORK/clv.exp" "$WORK/clv.act"
HASH_CLV="SELECT md5(string_agg(concat_ws('|', customer_id, coalesce(name, '<null>'), coalesce(city, '<null>')), chr(10) ORDER BY customer_id)) AS h FROM"
e=$(xduck "$HASH_CLV (SELECT s.customer_id, c.name, c.city FROM sil s LEFT JOIN cust c USING (customer_id) WHERE s.customer_id IS NOT NULL AND s.status <> 'cancelled' GROUP BY ALL)")
a=$(smelt_q "$P" "$HASH_CLV gold.customer_lifetime_value")
check_eq "gold.customer_lifetime_value name/city == latest customer record" "$e" "$a"

# gold.product_performance
PP_SQL="SELECT s.product_id, CAST(sum(s.quantity) AS BIGINT) AS units, CAST(sum(s.line_amount) AS DECIMAL(18,2)) AS revenue, count(DISTINCT s.order_id) AS orders, rank() OVER (PARTITION BY p.category ORDER BY sum(s.line_amount) DESC) AS rnk FROM sil s LEFT JOIN prod p USING (product_id) WHERE s.status <> 'cancelled' GROUP BY s.product_id, p.category"
e=$(xduck "SELECT count(*) AS n, sum(units) AS units, sum(revenue) AS revenue FROM ($PP_SQL)")
a=$(smelt_q "$P" "SELECT count(*) AS n, sum(units) AS units, sum(revenue) AS revenue FROM gold.product_performance")
check_eq "gold.product_performance count, sum(units), sum(revenue)" "$e" "$a"
xduck "$PP_SQL ORDER BY 1" > "$WORK/pp.exp"
smelt_q "$P" "SELECT product_id, units, CAST(revenue AS DECIMAL(18,2)) AS revenue, orders, revenue_rank_in_category AS rnk FROM gold.product_performance ORDER BY 1" > "$WORK/pp.act"
check_files_eq "gold.product_performance rows (incl. rank in category) == recomputation" "$WORK/pp.exp" "$WORK/pp.act"

# silver.orders as a whole
e=$(xduck "SELECT count(*) AS n, sum(line_amount) AS amt, sum(quantity) AS q, count(customer_id) AS c FROM sil")
a=$(smelt_q "$P" "SELECT count(*) AS n, sum(line_amount) AS amt, sum(quantity) AS q, count(customer_id) AS c FROM silver.orders")
check_eq "silver.orders count, sum(line_amount), sum(quantity), count(customer_id)" "$e" "$a"

# ------------------------------------------------------------ conservation
smelt_q "$P" "SELECT regexp_extract(_source_file, '[^/]+\$') AS f, count(*) AS n FROM bronze.orders GROUP BY 1" > "$WORK/bronze_by_file"
smelt_q "$P" "SELECT regexp_extract(_source_file, '[^/]+\$') AS f, count(*) AS n FROM quarantine.orders WHERE line IS NOT NULL GROUP BY 1" > "$WORK/quar_by_file"
lookup() { v=$(awk -F, -v f="$2" '$1 == f { print $2 }' "$1"); echo "${v:-0}"; }
total_lines=0
for f in $good; do
    base=$(basename "$f")
    lines=$(gzip -dc "$f" | tail -n +2 | awk 'END { print NR }')
    total_lines=$((total_lines + lines))
    nb=$(lookup "$WORK/bronze_by_file" "$base")
    nq=$(lookup "$WORK/quar_by_file" "$base")
    check_eq "$base: data lines ($lines) == bronze ($nb) + quarantined lines ($nq)" "$lines" "$((nb + nq))"
done
e=$(xduck "SELECT count(*) AS n FROM raw")
a=$(smelt_q "$P" "SELECT count(*) AS n FROM bronze.orders")
check_eq "bronze.orders row count == rows DuckDB parses from the readable files" "$e" "$a"

# bronze.orders_pos: every line of every member, named archive!member, on its line
e=$(xduck "SELECT count(*) AS n, sum(order_id) AS ids, sum(quantity * unit_price) AS amt FROM pos")
a=$(smelt_q "$P" "SELECT count(*) AS n, sum(order_id) AS ids, sum(quantity * unit_price) AS amt FROM bronze.orders_pos")
check_eq "bronze.orders_pos count, sum(order_id), amount == DuckDB over the unzipped CSVs" "$e" "$a"
e=$(cd "$WORK/pos" && for f in *.csv; do echo "$f,$(($(wc -l < "$f") - 1))"; done | sort)
a=$(smelt_q "$P" "SELECT regexp_extract(_source_file, '!(.*)\$', 1) AS f, count(*) FROM bronze.orders_pos GROUP BY 1 ORDER BY 1" | tail -n +2)
check_eq "bronze.orders_pos: rows per member (zip!member) == data lines of each CSV" "$e" "$a"
check_eq "bronze.orders_pos: nothing quarantined" 0 "$(smelt_q "$P" 'SELECT count(*) FROM quarantine.orders_pos' | tail -n +2)"
smelt_q "$P" "SELECT regexp_extract(_source_file, '!(.*)\$', 1), _source_line, order_id, line_no FROM bronze.orders_pos" | tail -n +2 > "$WORK/pos_lines.csv"
bad_lines=$(python3 - "$WORK/pos" "$WORK/pos_lines.csv" <<'EOF'
import csv, os, sys
files = {}
bad = 0
for member, line, oid, lno in csv.reader(open(sys.argv[2])):
    if member not in files:
        files[member] = open(os.path.join(sys.argv[1], member)).read().split("\n")
    if not files[member][int(line) - 1].startswith(f"{oid},{lno},"):
        bad += 1
print(bad)
EOF
)
check_eq "bronze.orders_pos: _source_line is the line of the member holding the row" 0 "$bad_lines"

nbad=$(echo $bad_files | wc -w)
check_eq "exactly one orders file fails gzip -t" 1 "$nbad"
for f in $bad_files; do
    base=$(basename "$f")
    a=$(smelt_q "$P" "SELECT count(*) AS n, count(*) FILTER (WHERE error_type = 'UNREADABLE FILE' AND line IS NULL) AS u FROM quarantine.orders WHERE regexp_extract(_source_file, '[^/]+\$') = '$base'")
    check_eq "$base (truncated): exactly one quarantine row, 'UNREADABLE FILE'" "$(printf 'n,u\n1,1')" "$a"
    check_eq "$base (truncated): no bronze rows" 0 "$(lookup "$WORK/bronze_by_file" "$base")"
done

# Each quarantined line's raw text is that line of its file.
smelt_q "$P" "SELECT regexp_extract(_source_file, '[^/]+\$') AS f, line, raw FROM quarantine.orders WHERE line IS NOT NULL" > "$WORK/quar.csv"
python3 - "$P/incoming/orders" "$WORK/quar.csv" > "$WORK/quar.check" <<'EOF'
import csv, gzip, sys
d, qf = sys.argv[1], sys.argv[2]
cache, bad, n = {}, [], 0
for r in csv.DictReader(open(qf, newline='')):
    n += 1
    if r['f'] not in cache:
        cache[r['f']] = gzip.open(d + '/' + r['f'], 'rt').read().split('\n')
    lines = cache[r['f']]
    i = int(r['line'])
    if not (1 <= i <= len(lines)) or lines[i - 1] != r['raw']:
        bad.append('%s:%s raw=%r file=%r' % (r['f'], r['line'], r['raw'], lines[i - 1] if 1 <= i <= len(lines) else None))
print(n)
for b in bad[:5]: print(b)
EOF
nq=$(head -1 "$WORK/quar.check")
[ "${nq:-0}" -gt 0 ] && ok "quarantine.orders has malformed lines ($nq)" || not_ok "quarantine.orders has malformed lines"
if [ "$(wc -l < "$WORK/quar.check")" -eq 1 ]; then ok "quarantine.orders raw == line <line> of <file>"
else not_ok "quarantine.orders raw == line <line> of <file>" "$(tail -n +2 "$WORK/quar.check")"; fi

# ------------------------------------------------------- Delta log structure
cat > "$WORK/delta_check.py" <<'EOF'
# delta_check.py OUTDIR DUCKQ TABLE_DIR...: checks Delta tables with nothing but
# json; writes OUTDIR/<zone>.<table>.out with "STRUCT msg" / "STATS msg"
# problems, "RECORDS n", "PARTCOLS json", "FILE path" per live data file.
import contextlib, datetime, json, os, re, subprocess, sys
def check(t, duckq):
    log = os.path.join(t, '_delta_log')
    def err(kind, msg): print(kind, msg)
    names = sorted(f for f in os.listdir(log) if f.endswith('.json'))
    vers = [int(f[:-5]) for f in names if re.fullmatch(r'\d{20}\.json', f)]
    if len(vers) != len(names): err('STRUCT', 'bad commit file names: %s' % names)
    if vers != list(range(len(vers))): err('STRUCT', 'versions not 0..n: %s' % vers)
    if '00000000000000000000.json' not in names: err('STRUCT', 'no version 0'); return
    live, meta, proto = {}, None, None
    KNOWN = {'commitInfo', 'protocol', 'metaData', 'add', 'remove', 'txn', 'cdc', 'domainMetadata'}
    for f in names:
        kinds = []
        for ln, line in enumerate(open(os.path.join(log, f))):
            if not line.strip(): continue
            try: a = json.loads(line)
            except Exception as e: err('STRUCT', '%s:%d not JSON: %s' % (f, ln + 1, e)); continue
            if len(a) != 1 or list(a)[0] not in KNOWN: err('STRUCT', '%s:%d action %s' % (f, ln + 1, list(a))); continue
            k, v = next(iter(a.items()))
            kinds.append(k)
            if k == 'metaData': meta = v
            elif k == 'protocol': proto = v
            elif k == 'add':
                for key in ('path', 'partitionValues', 'size', 'modificationTime', 'dataChange', 'stats'):
                    if key not in v: err('STRUCT', '%s: add without %s' % (f, key))
                live[v['path']] = v
            elif k == 'remove': live.pop(v.get('path'), None)
        if f == names[0]:
            for k in ('commitInfo', 'protocol', 'metaData'):
                if k not in kinds: err('STRUCT', 'version 0 has no %s' % k)
    if meta is None or proto is None: err('STRUCT', 'no metaData/protocol'); return
    if meta.get('format', {}).get('provider') != 'parquet': err('STRUCT', 'format %s' % meta.get('format'))
    try:
        schema = json.loads(meta['schemaString'])
        fields = schema['fields']
        assert schema['type'] == 'struct' and fields
        for fl in fields: assert {'name', 'type', 'nullable', 'metadata'} <= set(fl), fl
    except Exception as e:
        err('STRUCT', 'schemaString: %r' % e); fields = []
    types = {fl['name']: fl['type'] for fl in fields}
    pcols = meta.get('partitionColumns')
    print('PARTCOLS', json.dumps(pcols))
    if not isinstance(pcols, list) or not set(pcols) <= set(types): err('STRUCT', 'partitionColumns %s' % pcols)
    if 'timestamp_ntz' in types.values():
        if not (proto.get('minReaderVersion', 0) >= 3 and 'timestampNtz' in proto.get('readerFeatures', [])
                and proto.get('minWriterVersion', 0) >= 7 and 'timestampNtz' in proto.get('writerFeatures', [])):
            err('STRUCT', 'timestamp_ntz column without the timestampNtz table feature: %s' % proto)
    total = 0
    NUM = re.compile(r'^(byte|short|integer|long|float|double|decimal.*)$')
    for p, a in sorted(live.items()):
        full = os.path.join(t, p)
        print('FILE', full)
        if not os.path.isfile(full): err('STRUCT', 'live file missing: %s' % p); continue
        if os.path.getsize(full) != a.get('size'): err('STRUCT', '%s: size %s != %d' % (p, a.get('size'), os.path.getsize(full)))
        pv = a.get('partitionValues') or {}
        if set(pv) != set(pcols or []): err('STRUCT', '%s: partitionValues %s' % (p, pv))
        want = '/'.join('%s=%s' % (c, pv.get(c)) for c in pcols or [])
        if pcols and os.path.dirname(p) != want: err('STRUCT', '%s not under %s/' % (p, want))
        try:
            st = json.loads(a['stats'])
            n = st['numRecords']
            for k in ('minValues', 'maxValues', 'nullCount'): assert isinstance(st[k], dict), k
        except Exception as e:
            err('STRUCT', '%s: stats %r' % (p, e)); continue
        total += n
        # the stats against the Parquet file itself, read by DuckDB
        cols = [c for c in types if c not in (pcols or [])]
        sel = ['count(*)']
        checks = []
        for c in cols:
            q = '"' + c.replace('"', '""') + '"'
            if c in st['nullCount']:
                sel.append('count(*) - count(%s)' % q); checks.append(('nullCount', c))
            ty = types[c]
            if (NUM.match(ty) or ty in ('date', 'timestamp', 'timestamp_ntz')) and c in st['minValues']:
                sel.append('CAST(min(%s) AS VARCHAR)' % q); checks.append(('minValues', c))
                sel.append('CAST(max(%s) AS VARCHAR)' % q); checks.append(('maxValues', c))
        sql = 'SELECT %s FROM read_parquet(\'%s\', hive_partitioning=false)' % (', '.join(sel), full.replace("'", "''"))
        r = subprocess.run([duckq, sql], capture_output=True, text=True)
        if r.returncode != 0: err('STATS', '%s: duckq: %s' % (p, r.stderr.strip())); continue
        row = r.stdout.split('\n')[1].split(',')
        if int(row[0]) != n: err('STATS', '%s: numRecords %d, file has %s rows' % (p, n, row[0]))
        for (kind, c), got in zip(checks, row[1:]):
            exp = st[kind][c]
            if kind == 'nullCount':
                good = int(got) == exp
            elif got == '':
                good = exp is None
            elif NUM.match(types[c]):
                good = abs(float(got) - float(exp)) <= 1e-9 * max(1.0, abs(float(got)))
            elif types[c] == 'date':
                good = got == exp
            else:  # timestamps: stats are kept to the millisecond
                ts = lambda s: datetime.datetime.fromisoformat(s.replace('T', ' ').rstrip('Z').split('+')[0])
                good = abs((ts(got) - ts(exp)).total_seconds()) < 0.001
            if not good: err('STATS', '%s: %s.%s = %r, file has %r' % (p, kind, c, exp, got))
    print('RECORDS', total)
outdir, duckq = sys.argv[1], sys.argv[2]
for t in sys.argv[3:]:
    name = os.path.basename(os.path.dirname(t)) + '.' + os.path.basename(t)
    with open(os.path.join(outdir, name + '.out'), 'w') as f, contextlib.redirect_stdout(f):
        try: check(t, duckq)
        except Exception as e: print('STRUCT exception %r' % e)
EOF

tables=""
for d in "$P"/lake/bronze/*/ "$P"/lake/silver/*/ "$P"/lake/gold/*/ "$P"/lake/quarantine/*/; do
    [ -d "$d/_delta_log" ] && tables="$tables ${d%/}"
done
ntab=$(echo $tables | wc -w)
# 4 sources x (bronze + quarantine) + 7 models
nsrc=$(ls "$P"/sources/*.yml | wc -l)
nmod=$(ls "$P"/models/*/*.sql | wc -l)
check_eq "a Delta table per source in bronze and quarantine and per model" "$((2 * nsrc + nmod))" "$ntab"
mkdir -p "$WORK/dc"
python3 "$WORK/delta_check.py" "$WORK/dc" "$DUCKQ" $tables > "$WORK/dc.err" 2>&1
[ -s "$WORK/dc.err" ] && sed 's/^/#   /' "$WORK/dc.err" | head -10
for d in $tables; do
    name="$(basename "$(dirname "$d")").$(basename "$d")"
    cp "$WORK/dc/$name.out" "$WORK/dc.out" 2> /dev/null || echo "STRUCT no output" > "$WORK/dc.out"
    s=$(grep -E '^STRUCT|^Traceback|Error' "$WORK/dc.out" | head -5)
    if [ -z "$s" ] && grep -q '^RECORDS' "$WORK/dc.out"; then ok "$name: _delta_log well-formed (v0 commitInfo/protocol/metaData, schema, adds with stats)"
    else not_ok "$name: _delta_log well-formed (v0 commitInfo/protocol/metaData, schema, adds with stats)" "$s" "$(tail -3 "$WORK/dc.out")"; fi
    s=$(grep '^STATS' "$WORK/dc.out" | head -5)
    if [ -z "$s" ]; then ok "$name: add stats (numRecords, min, max, nullCount) agree with the Parquet files"
    else not_ok "$name: add stats (numRecords, min, max, nullCount) agree with the Parquet files" "$s"; fi
    cnt=$(smelt_q "$P" "SELECT count(*) AS n FROM $name" | tail -1)
    rec=$(sed -n 's/^RECORDS //p' "$WORK/dc.out")
    check_eq "$name: sum of numRecords over live adds == count(*)" "$cnt" "$rec"
    files=$(sed -n "s/^FILE \(.*\)/'\1'/p" "$WORK/dc.out" | paste -sd, -)
    if [ -n "$files" ]; then
        pq=$(duck "SELECT count(*) AS n FROM read_parquet([$files], hive_partitioning=false)" | tail -1)
    else
        pq=0
    fi
    check_eq "$name: Parquet files of the log read by DuckDB == count(*)" "$cnt" "$pq"
    if [ "$name" = gold.daily_sales ]; then
        check_eq "gold.daily_sales partitionColumns" '["day"]' "$(sed -n 's/^PARTCOLS //p' "$WORK/dc.out")"
        outside=$(sed -n 's/^FILE //p' "$WORK/dc.out" | grep -cv "/gold/daily_sales/day=[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]/[^/]*\.parquet\$")
        nf=$(grep -c '^FILE' "$WORK/dc.out")
        [ "$nf" -gt 0 ] && [ "$outside" -eq 0 ] && ok "gold.daily_sales files live under day=YYYY-MM-DD/ ($nf files)" \
            || not_ok "gold.daily_sales files live under day=YYYY-MM-DD/" "$nf files, $outside outside"
        days=$(sed -n 's/^FILE .*day=\([0-9-]*\)\/.*/\1/p' "$WORK/dc.out" | sort -u | paste -sd' ' -)
        edays=$(tail -n +2 "$WORK/ds.exp" | cut -d, -f1 | sort -u | paste -sd' ' -)
        check_eq "gold.daily_sales has one partition per day with sales" "$edays" "$days"
    fi
done

# ----------------------------------------------------------------- landing
# Every incoming file: where its landed copies are (found with find), cmp,
# sha256sum and size by hand; then one python3 reads all the manifests.
: > "$WORK/landing.tsv"
nin=0
for inc in "$P"/incoming/*/*; do
    nin=$((nin + 1))
    src=$(basename "$(dirname "$inc")")
    fn=$(basename "$inc")
    copies=$(find "$P/lake/landing/$src" -type f -name "$fn" 2> /dev/null)
    set -- $copies
    if [ $# -ne 1 ]; then
        not_ok "landing: $src/$fn landed exactly once" "copies: $copies"
        continue
    fi
    copy=$1
    rel=${copy#"$P/lake/landing/$src/"}
    case "$rel" in
        [0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/*/"$fn") ok "landing: $src/$fn under landing/$src/YYYY/MM/DD/<batch>/" ;;
        *) not_ok "landing: $src/$fn under landing/$src/YYYY/MM/DD/<batch>/" "at $copy" ;;
    esac
    check_files_eq "landing: $src/$fn byte-identical to the incoming file" "$inc" "$copy"
    sha=$(sha256sum "$inc" | cut -d' ' -f1)
    size=$(wc -c < "$inc" | tr -d ' ')
    ymd=$(echo "$rel" | cut -d/ -f1-3 | tr / -)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(dirname "$copy")/_manifest.json" "$src" "$inc" "$size" "$sha" "$ymd" >> "$WORK/landing.tsv"
done
check_eq "landing: every incoming file has one landed copy" "$nin" "$(wc -l < "$WORK/landing.tsv" | tr -d ' ')"
python3 - "$WORK/landing.tsv" > "$WORK/manifests.out" <<'EOF'
import json, os, sys
for row in open(sys.argv[1]):
    f, src, path, size, sha, ymd = row.rstrip('\n').split('\t')
    bad = []
    try: m = json.load(open(f))
    except Exception as e: m = {}; bad.append('manifest: %r' % e)
    if m.get('source') != src: bad.append('source=%r' % m.get('source'))
    op = m.get('original_path')
    if not isinstance(op, str) or os.path.realpath(op) != os.path.realpath(path): bad.append('original_path=%r want %r' % (op, path))
    if m.get('size') != int(size): bad.append('size=%r want %s' % (m.get('size'), size))
    if m.get('sha256') != sha: bad.append('sha256=%r want %s' % (m.get('sha256'), sha))
    r = m.get('received_at')
    if not isinstance(r, str) or not r.startswith(ymd + 'T'): bad.append('received_at=%r, dir date %s' % (r, ymd))
    print('%s/%s\t%s' % (src, os.path.basename(path), ' '.join(bad)))
EOF
n=0
while IFS='	' read -r name problems; do
    n=$((n + 1))
    check_eq "landing: $name _manifest.json (source, original_path, size, sha256 = sha256sum, received_at)" "" "$problems"
done < "$WORK/manifests.out"
check_eq "landing: a manifest checked per landed file" "$(wc -l < "$WORK/landing.tsv" | tr -d ' ')" "$n"

done_testing
