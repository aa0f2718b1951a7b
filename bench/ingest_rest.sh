#!/bin/sh
# bench/ingest_rest.sh — REST ingestion speed: `smelt run` on a project whose
# one source is a paginated JSON API (PAGES pages of PER_PAGE records from
# the test server, tests/e2e/rest_server.py --bench) against a Python loop
# doing the same pagination with `requests` and writing every record out
# as NDJSON. Prints records per second for both and the ratio (goal: smelt
# at least 5 times faster). See bench/README.md.
#
#   bench/ingest_rest.sh                      # 1000 pages x 1000 records, 3 rounds
#   PAGES=100 REPEAT=1 bench/ingest_rest.sh   # a quick one
#
# Environment: PAGES (1000), PER_PAGE (1000), REPEAT (3), SERVER (raw: a
# minimal keep-alive HTTP loop serving pre-made pages; std: Python's
# http.server, the one the tests use), OUT (bench/out/rest, recreated),
# SMELT (build/smelt). The report is also in OUT/results.txt, and as
# measure,value lines in OUT/results.csv for other scripts.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
PAGES=${PAGES:-1000}
PER_PAGE=${PER_PAGE:-1000}
REPEAT=${REPEAT:-3}
SERVER=${SERVER:-raw}
OUT=${OUT:-bench/out/rest}
SMELT=${SMELT:-build/smelt}
[ -x "$SMELT" ] || { echo "ingest_rest: $SMELT is missing: run 'make' first" >&2; exit 2; }
case "$SERVER" in raw | std) ;; *) echo "ingest_rest: SERVER must be raw or std" >&2; exit 2 ;; esac
command -v curl > /dev/null || { echo "ingest_rest: curl is missing" >&2; exit 2; }
rm -rf "$OUT"
mkdir -p "$OUT/bin"
OUT=$(cd "$OUT" && pwd)
cp "$SMELT" "$OUT/bin/smelt" # a rebuild while this runs does not change what is measured
SMELT="$OUT/bin/smelt"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1

# The baseline's Python: Debian's python3-requests (scripts/deps.sh), or
# any python3 that has requests; else the standard library's urllib.
PY="" CLIENT=requests
for p in /usr/bin/python3 python3; do
    if command -v "$p" > /dev/null && "$p" -c 'import requests' 2> /dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
    PY=python3 CLIENT=urllib
    echo "ingest_rest: no python3 with requests: the baseline uses urllib.request"
fi
RECORDS=$((PAGES * PER_PAGE))

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
best() { sort -n | head -1; }

echo "ingest_rest: making $PAGES pages of $PER_PAGE records ($SERVER server)"
python3 tests/e2e/rest_server.py --bench "$SERVER" "$OUT/port" "$PAGES" "$PER_PAGE" > "$OUT/server.log" 2>&1 &
spid=$!
trap 'kill "$spid" 2> /dev/null || true' EXIT INT TERM
i=0
while [ ! -s "$OUT/port" ] && [ $i -lt 600 ]; do
    kill -0 "$spid" 2> /dev/null || { cat "$OUT/server.log" >&2; exit 1; }
    sleep 0.2
    i=$((i + 1))
done
URL="http://127.0.0.1:$(cat "$OUT/port")/bench/items"

# What the server alone can do: curl fetching every page over one
# connection, throwing the bytes away.
i=1
while [ $i -le "$PAGES" ]; do
    printf 'url = "%s?page=%d&per_page=%d"\noutput = /dev/null\n' "$URL" "$i" "$PER_PAGE"
    i=$((i + 1))
done > "$OUT/curl.cfg"
t0=$(now)
curl -s -K "$OUT/curl.cfg"
server_s=$(secs "$t0" "$(now)")
bytes=$(curl -s "$URL?page=1&per_page=$PER_PAGE" | wc -c | tr -d ' ')

cat > "$OUT/client.py" << 'EOF'
# The baseline: page through the API and write every record out as NDJSON.
import json, sys
url, out, lib = sys.argv[1], sys.argv[2], sys.argv[3]
if lib == "requests":
    import requests
    session = requests.Session()
    def get(page):
        r = session.get(url, params={"page": page, "per_page": int(sys.argv[4])})
        r.raise_for_status()
        return r.json()
else:
    import urllib.request
    def get(page):
        with urllib.request.urlopen("%s?page=%d&per_page=%s" % (url, page, sys.argv[4])) as r:
            return json.load(r)
n, page = 0, 1
with open(out, "w") as f:
    while True:
        d = get(page)
        for rec in d["data"]:
            f.write(json.dumps(rec))
            f.write("\n")
        n += len(d["data"])
        if not d["has_more"] or not d["data"]:
            break
        page += 1
print(n)
EOF

mkproject() { # DIR
    mkdir -p "$1/sources"
    echo "name: bench" > "$1/smelt.yml"
    cat > "$1/sources/items.yml" << EOF
kind: rest
base_url: ${URL%/bench/items}
resource: bench/items
records: data
paginate: {type: page, limit: $PER_PAGE, limit_param: per_page, has_more_path: has_more}
EOF
}

# Rounds take turns (python, smelt, python, smelt ...) so that a busy
# machine slows both alike. Every smelt round starts from an empty project
# in a folder of its own; nothing is deleted until the end (mass deletions
# make the next file creations slow on ext4).
: > "$OUT/py.txt"
: > "$OUT/smelt.txt"
: > "$OUT/landing.txt"
: > "$OUT/bronze.txt"
r=1
while [ $r -le "$REPEAT" ]; do
    t0=$(now)
    n=$("$PY" "$OUT/client.py" "$URL" "$OUT/py-$r.ndjson" "$CLIENT" "$PER_PAGE")
    t=$(secs "$t0" "$(now)")
    [ "$n" = "$RECORDS" ] || { echo "ingest_rest: the Python loop wrote $n records, not $RECORDS" >&2; exit 1; }
    echo "$t" >> "$OUT/py.txt"
    rm -f "$OUT/py-$r.ndjson"

    mkproject "$OUT/smelt-$r"
    t0=$(now)
    "$SMELT" -C "$OUT/smelt-$r" run --format csv > "$OUT/smelt-$r.csv" 2> "$OUT/smelt-$r.err" || {
        echo "ingest_rest: smelt run failed:" >&2
        cat "$OUT/smelt-$r.err" >&2
        exit 1
    }
    t=$(secs "$t0" "$(now)")
    n=$("$SMELT" -C "$OUT/smelt-$r" query --format csv "SELECT count(*) FROM bronze.items" | tail -n 1)
    [ "$n" = "$RECORDS" ] || { echo "ingest_rest: bronze.items has $n rows, not $RECORDS" >&2; exit 1; }
    echo "$t" >> "$OUT/smelt.txt"
    awk -F, '$1 == "landing.items" { print $6 }' "$OUT/smelt-$r.csv" >> "$OUT/landing.txt"
    awk -F, '$1 == "bronze.items" { print $6 }' "$OUT/smelt-$r.csv" >> "$OUT/bronze.txt"
    echo "round $r: python $(tail -n 1 "$OUT/py.txt") s, smelt $t s"
    r=$((r + 1))
done

py=$(median < "$OUT/py.txt")
sm=$(median < "$OUT/smelt.txt")
{
    echo "REST ingestion: $PAGES pages x $PER_PAGE records = $RECORDS records, $bytes bytes a page"
    echo "server: $SERVER; curl alone fetches every page in $server_s s"
    echo "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $REPEAT rounds (median, best)"
    echo
    printf '%-44s %9s %9s %14s\n' "" "median s" "best s" "records/s"
    printf '%-44s %9s %9s %14.0f\n' "Python $CLIENT loop, records to NDJSON" "$py" "$(best < "$OUT/py.txt")" \
        "$(awk -v n="$RECORDS" -v t="$py" 'BEGIN { print n / t }')"
    printf '%-44s %9s %9s %14.0f\n' "smelt run (landing + bronze Delta table)" "$sm" "$(best < "$OUT/smelt.txt")" \
        "$(awk -v n="$RECORDS" -v t="$sm" 'BEGIN { print n / t }')"
    printf '%-44s %9s %9s\n' "  of which landing.items" "$(median < "$OUT/landing.txt")" "$(best < "$OUT/landing.txt")"
    printf '%-44s %9s %9s\n' "  of which bronze.items" "$(median < "$OUT/bronze.txt")" "$(best < "$OUT/bronze.txt")"
    echo
    awk -v a="$py" -v b="$sm" 'BEGIN { r = a / b; printf "smelt / Python: %.1fx faster (goal: at least 5x) %s\n", r, (r >= 5 ? "ok" : "MISSED") }'
} | tee "$OUT/results.txt"
{
    echo "measure,value"
    echo "records,$RECORDS"
    echo "python_client,$CLIENT"
    echo "python_median_s,$py"
    echo "smelt_median_s,$sm"
    echo "landing_median_s,$(median < "$OUT/landing.txt")"
    echo "bronze_median_s,$(median < "$OUT/bronze.txt")"
    echo "python_records_per_s,$(awk -v n="$RECORDS" -v t="$py" 'BEGIN { printf "%.0f", n / t }')"
    echo "smelt_records_per_s,$(awk -v n="$RECORDS" -v t="$sm" 'BEGIN { printf "%.0f", n / t }')"
    echo "ratio,$(awk -v a="$py" -v b="$sm" 'BEGIN { printf "%.2f", a / b }')"
} > "$OUT/results.csv"
rm -rf "$OUT"/smelt-*/lake
