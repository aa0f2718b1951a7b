#!/bin/sh
# REST sources against a real HTTP server (tests/e2e/rest_server.py, Python's
# standard library) on a free port of 127.0.0.1: every pagination type,
# retries on 500/429/timeouts/dropped connections, a page that is not JSON,
# a cursor that repeats, incremental runs, bearer and API-key auth whose
# secrets must not leak, declared columns with records that do not cast.
# The server's data is deterministic: record i (1..N) has id i, updated_at
# 2024-01-01T00:00:00Z + i minutes, and price "n/a" when 20 divides i.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
cd "$WORK" || exit 1

# The server must not be reached through a proxy from the environment.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1

N=45
python3 "$here/rest_server.py" "$WORK/port" "$N" > server.log 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
i=0
while [ ! -s "$WORK/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
PORT=$(cat "$WORK/port" 2>/dev/null)
[ -n "$PORT" ] || { not_ok "rest server started" "$(cat server.log)"; done_testing; exit 1; }
BASE="http://127.0.0.1:$PORT"

api() { curl -s --noproxy '*' "$BASE$1"; }
# stat KEY: how many requests the server saw for path+query KEY
stat() { api /stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"].get(sys.argv[1], 0))' "$1"; }
total_requests() { api /stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }
# fault KIND MATCH [TIMES]: the next TIMES requests whose path+query holds MATCH
fault() { api "/admin/fault?kind=$1&match=$(printf %s "$2" | sed 's/%/%25/g; s/&/%26/g; s/?/%3F/g; s/=/%3D/g')&times=${3:-1}" > /dev/null; }
q() { smelt_q "$1" "$2" 2> q.err | tail -n +2; }
# mkproj DIR: a project whose source sources/items.yml is read from stdin
mkproj() {
    mkdir -p "$1/sources"
    echo "name: t" > "$1/smelt.yml"
    cat > "$1/sources/items.yml"
}
run_smelt() {
    "$SMELT" -C "$1" run --format csv > run.out 2> run.err
    rc=$?
}
check_match() {
    if printf '%s\n' "$3" | grep -Eq -- "$2"; then ok "$1"; else not_ok "$1" "expected to match: $2" "actual: $3"; fi
}
check_absent() { # NAME NEEDLE FILE...
    n=$1 needle=$2
    shift 2
    if grep -r -a -l -F -- "$needle" "$@" > found.txt 2>/dev/null; then
        not_ok "$n" "found in: $(tr '\n' ' ' < found.txt)"
    else
        ok "$n"
    fi
}

expected=$(api /count | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
check_eq "server: serves N records" "$N" "$expected"

# --- offset pagination through every kind of transient failure ---------------
fault 500 "/offset/items?limit=10&offset=0" 2
fault 429 "/offset/items?limit=10&offset=10"
fault slow "/offset/items?limit=10&offset=20"
fault drop "/offset/items?limit=10&offset=30"
fault cut "/offset/items?limit=10&offset=40"
mkproj off <<EOF
kind: rest
base_url: $BASE
resource: /offset/items
records: data.items[*]
paginate: {type: offset, limit: 10, total_path: meta.total}
timeout: 2
retries: 3
EOF
run_smelt off
check_eq "offset: run succeeds despite 500, 429, timeout, drop, cut" 0 "$rc"
check_eq "offset: bronze holds every record served" "$expected,1,$N" \
    "$(q off 'SELECT count(*), min(id), max(id) FROM bronze.items')"
check_eq "offset: two 500s then success = 3 requests" 3 "$(stat '/offset/items?limit=10&offset=0')"
check_eq "offset: 429 with Retry-After then success = 2 requests" 2 "$(stat '/offset/items?limit=10&offset=10')"
check_eq "offset: timeout then success = 2 requests" 2 "$(stat '/offset/items?limit=10&offset=20')"
check_eq "offset: dropped connection then success = 2 requests" 2 "$(stat '/offset/items?limit=10&offset=30')"
check_eq "offset: body cut short then success = 2 requests" 2 "$(stat '/offset/items?limit=10&offset=40')"
check_eq "offset: stops at meta.total, no request past it" 0 "$(stat '/offset/items?limit=10&offset=50')"
check_eq "offset: 5 pages landed" 5 "$(ls off/lake/landing/items/*/*/*/*/page-*.json | wc -l | tr -d ' ')"
m=$(cat off/lake/landing/items/*/*/*/*/_manifest.json)
check_contains "offset: manifest has each page's URL" "offset/items?limit=10&offset=40" "$m"
check_contains "offset: manifest keeps content-type" '"content-type": "application/json"' "$m"
check_eq "offset: _source_url and _source_file per row" \
    "$BASE/offset/items?limit=10&offset=10,page-00002.json" \
    "$(q off "SELECT DISTINCT _source_url, split_part(_source_file, '/', -1) FROM bronze.items WHERE id = 11")"
check_eq "offset: typed by read_json (updated_at is a TIMESTAMP)" "TIMESTAMP" \
    "$(q off 'SELECT DISTINCT typeof(updated_at) FROM bronze.items')"
check_eq "offset: nested values kept as JSON text" '"[""t2""]"' \
    "$(q off 'SELECT tags FROM bronze.items WHERE id = 5')"
before=$(total_requests)
run_smelt off
check_eq "offset: rerun succeeds" 0 "$rc"
check_eq "offset: rerun lands nothing (same pages)" 5 "$(ls off/lake/landing/items/*/*/*/*/page-*.json | wc -l | tr -d ' ')"
check_eq "offset: rerun loads nothing twice" "$expected" "$(q off 'SELECT count(*) FROM bronze.items')"
check_eq "offset: rerun fetched the 5 pages once each" 5 $(($(total_requests) - before))

# --- the other pagination types ----------------------------------------------
mkproj page <<EOF
kind: rest
base_url: $BASE
resource: page/items
records: data[*]
paginate: {type: page, limit: 10, limit_param: per_page, has_more_path: has_more}
EOF
run_smelt page
check_eq "page: run succeeds" 0 "$rc"
check_eq "page: all records, none twice" "$expected,$expected" \
    "$(q page 'SELECT count(*), count(DISTINCT id) FROM bronze.items')"
check_eq "page: stops when has_more is false" 0 "$(stat '/page/items?per_page=10&page=6')"

mkproj cur <<EOF
kind: rest
base_url: $BASE/
path: cursor/items
records: items
paginate: {type: cursor, limit: 10, cursor_path: meta.next_cursor, cursor_param: cursor}
EOF
run_smelt cur
check_eq "cursor: run succeeds" 0 "$rc"
check_eq "cursor: all records" "$expected,$expected" \
    "$(q cur 'SELECT count(*), count(DISTINCT id) FROM bronze.items')"
check_eq "cursor: second page asked with the first page's cursor" 1 "$(stat '/cursor/items?limit=10&cursor=c10')"

mkproj nxt <<EOF
kind: rest
base_url: $BASE
resource: next/items
params: {limit: 10}
records: results
paginate: {type: next_url, next_url_path: links.next}
EOF
run_smelt nxt
check_eq "next_url: run succeeds" 0 "$rc"
check_eq "next_url: all records (relative links followed)" "$expected,$expected" \
    "$(q nxt 'SELECT count(*), count(DISTINCT id) FROM bronze.items')"

mkproj lnk <<EOF
kind: rest
base_url: $BASE
resource: link/items
records: \$
paginate: {type: link_header, limit: 10, limit_param: per_page}
EOF
run_smelt lnk
check_eq "link_header: run succeeds" 0 "$rc"
check_eq "link_header: all records of a top-level array" "$expected,$expected" \
    "$(q lnk 'SELECT count(*), count(DISTINCT id) FROM bronze.items')"

# --- a page that is not JSON ----------------------------------------------------
api /admin/reset > /dev/null
fault malformed "/offset/items?limit=10&offset=20"
mkproj bad <<EOF
kind: rest
base_url: $BASE
resource: offset/items
records: data.items
paginate: {type: offset, limit: 10}
EOF
run_smelt bad
check_eq "malformed: run succeeds (pagination goes on by limit)" 0 "$rc"
check_contains "malformed: the run warns about the page" "page 3" "$(cat run.err)"
check_eq "malformed: bronze has the other pages' records" 35 "$(q bad 'SELECT count(*) FROM bronze.items')"
check_eq "malformed: the page is quarantined as a file" "1,UNREADABLE FILE,page-00003.json" \
    "$(q bad "SELECT count(*), any_value(error_type), split_part(any_value(_source_file), '/', -1) FROM quarantine.items")"
check_match "malformed: the bronze task reports it" "bronze.items,success,.*quarantined" "$(cat run.out)"
run_smelt bad
cp run.err bad2.err
check_eq "malformed: the rerun gets the page right and loads it" "0,$expected,$expected" \
    "$rc,$(q bad 'SELECT count(*), count(DISTINCT id) FROM bronze.items')"

fault malformed "/cursor/items?limit=10&cursor=c20"
mkproj badcur <<EOF
kind: rest
base_url: $BASE
resource: cursor/items
records: items
paginate: {type: cursor, limit: 10, cursor_path: meta.next_cursor}
EOF
run_smelt badcur
check_eq "malformed cursor page: run fails" 1 "$rc"
check_contains "malformed cursor page: says why it stops" "page 3 is not JSON, so the next page cannot be found" "$(cat run.err)"
check_eq "malformed cursor page: pages before it are loaded" 20 "$(q badcur 'SELECT count(*) FROM bronze.items')"

# --- a cursor that comes back --------------------------------------------------
api /admin/reset > /dev/null
fault dupcursor "/cursor/items?limit=10&cursor=c20"
mkproj dup <<EOF
kind: rest
base_url: $BASE
resource: cursor/items
records: items
paginate: {type: cursor, limit: 10, cursor_path: meta.next_cursor}
EOF
run_smelt dup
check_eq "duplicate cursor: run fails" 1 "$rc"
check_contains "duplicate cursor: the error names the cursor" "the API sent cursor 'c20' a second time (page 3)" "$(cat run.err)"
check_eq "duplicate cursor: it was not followed again" 1 "$(stat '/cursor/items?limit=10&cursor=c20')"
check_eq "duplicate cursor: the pages fetched are loaded" 30 "$(q dup 'SELECT count(*) FROM bronze.items')"

fault dupcursor "/next/items?after=20&"
mkproj dupn <<EOF
kind: rest
base_url: $BASE
resource: next/items?limit=10
records: results
paginate: {type: next_url, next_url_path: links.next}
EOF
run_smelt dupn
check_eq "duplicate next URL: run fails" 1 "$rc"
check_contains "duplicate next URL: the error names the URL" "next URL '$BASE/next/items?after=20&limit=10' a second time" "$(cat run.err)"

# --- incremental ------------------------------------------------------------------
mkproj inc <<EOF
kind: rest
base_url: $BASE
resource: cursor/items
records: items
paginate: {type: cursor, limit: 10, cursor_path: meta.next_cursor}
incremental: {cursor_field: updated_at, param: updated_since}
EOF
mkproj incl <<EOF
kind: rest
base_url: $BASE
resource: cursor/items
records: items
paginate: {type: cursor, limit: 10, cursor_path: meta.next_cursor}
incremental: {cursor_field: updated_at, param: updated_since, lookback: 120}
EOF
run_smelt inc
check_eq "incremental: first run succeeds" 0 "$rc"
run_smelt incl
wm=$(sqlite3 inc/.smelt/state.db "SELECT value FROM watermarks WHERE source = 'items'")
check_eq "incremental: watermark is the highest updated_at" "2024-01-01T00:45:00Z" "$wm"
api /admin/grow?n=7 > /dev/null
new=$(api "/count?updated_since=$wm" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
check_eq "incremental: the server has 7 newer records" 7 "$new"
api /admin/reset > /dev/null
run_smelt inc
cp run.err inc2.err
check_eq "incremental: second run succeeds" 0 "$rc"
check_eq "incremental: the request carried the watermark" 1 \
    "$(stat '/cursor/items?limit=10&updated_since=2024-01-01T00%3A45%3A00Z')"
check_eq "incremental: second run fetched only the newer records" "$((N + new)),$new" \
    "$(q inc "SELECT count(*), count(*) FILTER (WHERE _ingested_at = (SELECT max(_ingested_at) FROM bronze.items)) FROM bronze.items")"
check_eq "incremental: no record twice" "$((N + new))" "$(q inc 'SELECT count(DISTINCT id) FROM bronze.items')"
check_eq "incremental: watermark advanced" "2024-01-01T00:52:00Z" \
    "$(sqlite3 inc/.smelt/state.db "SELECT value FROM watermarks WHERE source = 'items'")"
run_smelt incl
check_eq "incremental lookback: sent 120 s before the watermark" 1 \
    "$(stat '/cursor/items?limit=10&updated_since=2024-01-01T00%3A43%3A00Z')"
check_eq "incremental lookback: refetches 2 records plus the 7 new" "$((N + new + 2))" \
    "$(q incl 'SELECT count(*) FROM bronze.items')"
run_smelt inc
check_eq "incremental: a third run with nothing new adds nothing" "$((N + new))" \
    "$(q inc 'SELECT count(*) FROM bronze.items')"
N=$((N + new))

# --- bearer auth, a token that expires mid-run, and no leaks ----------------------
TOKEN="tok-$(date +%s)-s3cr3t-bearer"
api "/admin/auth?token=$TOKEN&ttl=2" > /dev/null
mkproj sec <<EOF
kind: rest
base_url: $BASE
resource: secure/cursor/items
records: items
paginate: {type: cursor, limit: 10, cursor_path: meta.next_cursor}
auth: {type: bearer, token: "\${env:REST_TOKEN}"}
EOF
REST_TOKEN=$TOKEN run_smelt sec
check_eq "bearer: an expired token fails the run" 1 "$rc"
check_contains "bearer: 401 reported with a hint" "answered HTTP 401 Unauthorized: check 'auth' in sources/items.yml" "$(cat run.err)"
check_eq "bearer: the pages before the 401 are loaded" 20 "$(q sec 'SELECT count(*) FROM bronze.items')"
api "/admin/auth?token=$TOKEN&ttl=0" > /dev/null
REST_TOKEN=$TOKEN "$SMELT" -C sec run > run2.out 2> run2.err
check_eq "bearer: with a valid token the rerun completes" "0,$N,$N" \
    "$?,$(q sec 'SELECT count(*), count(DISTINCT id) FROM bronze.items')"
check_absent "bearer: the token is in no output, state.db or lake file" "$TOKEN" \
    run.out run.err run2.out run2.err sec/.smelt sec/lake
"$SMELT" -C sec run > run3.out 2> run3.err
check_contains "bearer: an unset variable is named in the error" "REST_TOKEN" "$(cat run3.err)"

# --- API key in the query string ------------------------------------------------------
KEY="key-$(date +%s)-s3cr3t-apikey"
api "/admin/auth?key=$KEY" > /dev/null
mkproj key <<EOF
kind: rest
base_url: $BASE
resource: keyed/offset/items
records: data.items
paginate: {type: offset, limit: 20}
auth: {type: api_key, name: api_key, in: query, token: "\${env:REST_KEY}"}
EOF
fault 500 "keyed/offset/items?limit=20&offset=20"
REST_KEY=$KEY run_smelt key
check_eq "api_key: run succeeds" "0,$N" "$rc,$(q key 'SELECT count(*) FROM bronze.items')"
api /stats > key_stats.json
check_eq "api_key: the key was sent in the query" 1 "$(stat "/keyed/offset/items?limit=20&offset=0&api_key=$KEY")"
check_contains "api_key: shown URLs say REDACTED" "api_key=REDACTED" \
    "$(sqlite3 key/.smelt/state.db 'SELECT orig_path FROM landed_files')"
check_absent "api_key: the key is in no output, state.db or lake file" "$KEY" run.out run.err key/.smelt key/lake
mkproj keyh <<EOF
kind: rest
base_url: $BASE
resource: keyed/offset/items
records: data.items
paginate: {type: offset, limit: 50}
auth: {type: api_key, name: X-API-Key, token: "\${env:REST_KEY}"}
EOF
REST_KEY=$KEY run_smelt keyh
check_eq "api_key header: run succeeds" "0,$N" "$rc,$(q keyh 'SELECT count(*) FROM bronze.items')"

mkproj basic <<EOF
kind: rest
base_url: $BASE
resource: basic/offset/items
method: POST
body: '{"query": "all items"}'
records: data.items
paginate: {type: offset, limit: 50}
auth: {type: basic, username: user, password: "\${env:REST_KEY}"}
EOF
api /admin/reset > /dev/null
REST_KEY=$KEY run_smelt basic
check_eq "basic auth + POST: run succeeds" "0,$N" "$rc,$(q basic 'SELECT count(*) FROM bronze.items')"
check_eq "POST: the body and its content type were sent" '{"query": "all items"} application/json' \
    "$(api /stats | python3 -c 'import json,sys; p=json.load(sys.stdin)["posts"][0]; print(p["body"], p["content_type"])')"
check_absent "basic auth: the password is in no output, state.db or lake file" "$KEY" run.out run.err basic/.smelt basic/lake

mkproj sref <<EOF
kind: rest
base_url: $BASE
resource: secure/offset/items
records: data.items[*]
paginate: {type: offset, limit: 50}
auth: {type: bearer, token: "\${secret:api_token}"}
EOF
run_smelt sref
check_contains "secret reference: the error names the secret" "secret 'api_token'" "$(cat run.err)"
# the same source reads its token from the encrypted store
api "/admin/auth?token=$TOKEN&ttl=0" > /dev/null
printf '%s' "$TOKEN" | SMELT_MASTER_KEY= "$SMELT" -C sref secrets set api_token > /dev/null 2>&1
run_smelt sref
check_eq "secret reference: with the secret set the run succeeds" "0,$N" "$rc,$(q sref 'SELECT count(*) FROM bronze.items')"
check_absent "secret reference: the token is in no output, state.db or lake file" "$TOKEN" run.out run.err sref/.smelt sref/lake

# --- declared columns: records that do not cast go to quarantine -------------------------
mkproj typed <<EOF
kind: rest
base_url: $BASE
resource: offset/items
records: data.items[*]
paginate: {type: offset, limit: 25}
columns:
  id: BIGINT
  price: DOUBLE
  updated_at: TIMESTAMP
  tags: VARCHAR[]
EOF
run_smelt typed
check_eq "columns: run succeeds" 0 "$rc"
check_eq "columns: records that cast are in bronze, typed" "$((N - 2)),DOUBLE,TIMESTAMP" \
    "$(q typed 'SELECT count(*), any_value(typeof(price)), any_value(typeof(updated_at)) FROM bronze.items')"
check_eq "columns: only the declared columns and provenance" '"id,price,updated_at,tags,_batch_id,_source_file,_ingested_at,_source_url"' \
    "$(q typed "SELECT string_agg(column_name, ',') FROM (DESCRIBE SELECT * FROM bronze.items)")"
check_eq "columns: price 'n/a' is quarantined with the record and the column" "2,price,CAST ERROR,20" \
    "$(q typed "SELECT count(*), any_value(column_name), any_value(error_type), min(CAST(raw::JSON->>'id' AS INT)) FROM quarantine.items")"
check_contains "columns: the quarantine error says what failed" "cannot cast \"\"n/a\"\" to DOUBLE for column 'price'" \
    "$(q typed 'SELECT any_value(error) FROM quarantine.items')"

# --- rate limit ---------------------------------------------------------------------------
mkproj rl <<EOF
kind: rest
base_url: $BASE
resource: offset/items
records: data.items
paginate: {type: offset, limit: 13}
rate_limit: 4
EOF
t0=$(date +%s%N)
run_smelt rl
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
check_eq "rate_limit: run succeeds" 0 "$rc"
if [ "$ms" -ge 1000 ]; then ok "rate_limit: 5 requests at 4/s take at least 1 s"; else not_ok "rate_limit: 5 requests at 4/s take at least 1 s" "took $ms ms"; fi

kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
done_testing
