#!/bin/sh
# REST sources against a real HTTP server (tests/e2e/rest_server.py, Python's
# standard library) on a free port of 127.0.0.1: every pagination type,
# retries on 500/429/timeouts/dropped connections, a page that is not JSON,
# a cursor that repeats, incremental runs, bearer and API-key auth whose
# secrets must not leak, declared columns with records that do not cast,
# OAuth 2.0 client credentials (tokens that run out mid-run, a wrong
# secret, a failing token endpoint), and child endpoints filled from the
# records of a parent source (paginated, with a 404 for one parent).
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

# A request that fails for good mid-run: the pages before it stay landed and
# load; the file made ahead for the page that never came is gone.
api /admin/reset > /dev/null
fault 500 "/offset/items?limit=10&offset=20" 9
mkproj fail3 <<EOF
kind: rest
base_url: $BASE
resource: offset/items
records: data.items
paginate: {type: offset, limit: 10}
retries: 1
EOF
run_smelt fail3
check_eq "a page that fails for good: run fails, 2 pages landed and loaded, no other file" \
    "1,_manifest.json page-00001.json page-00002.json,20" \
    "$rc,$(LC_ALL=C ls fail3/lake/landing/items/*/*/*/*/ | tr '\n' ' ' | sed 's/ $//'),$(q fail3 'SELECT count(*) FROM bronze.items')"

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

# --- OAuth 2.0 client credentials ---------------------------------------------------
# Every section from here serves 45 records again.
api /admin/set?n=45 > /dev/null
N=45
tokens_issued() { api /stats | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tokens"]))'; }
all_tokens() { api /stats | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["tokens"]))'; }
token_request() { # what token request $1 (0 = first) sent
    api /stats | python3 -c 'import json,sys; r=json.load(sys.stdin)["token_requests"][int(sys.argv[1])]; f=r["form"]; print(r["auth"], f.get("grant_type"), r["content_type"], f.get("scope"), f.get("audience"), f.get("client_id"))' "$1"
}
status_count() { api /stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"].get(sys.argv[1], 0))' "$1"; }
CS="cs-$(date +%s)-s3cr3t-oauth"
oauth() { # expires_in max_uses [client_secret]
    api "/admin/oauth?client_id=smelt-client&client_secret=${3:-$CS}&expires_in=$1&max_uses=$2" > /dev/null
    api /admin/reset > /dev/null
}
mkoauth() { # DIR [extra auth line] [extra source line]
    mkproj "$1" <<EOF
kind: rest
base_url: $BASE
resource: oauth2/offset/items
records: data.items
paginate: {type: offset, limit: ${LIMIT:-10}}
auth:
  type: oauth2_client_credentials
  token_url: /oauth/token
  client_id: smelt-client
  client_secret: "\${secret:api_client_secret}"
  scope: read:items
  token_params: {audience: "https://api.example.com"}
${2:-}
${3:-}
EOF
    printf '%s' "$CS" | SMELT_MASTER_KEY= "$SMELT" -C "$1" secrets set api_client_secret > /dev/null 2>&1
}
# 45 records, 10 a page, offsets moving by the records received: pages at
# offsets 0, 10, 20, 30, 40 and an empty one at 45 = 6 requests.
oauth 3600 0
mkoauth oa
run_smelt oa
cp run.out oa1.out; cp run.err oa1.err
check_eq "oauth: run succeeds with the token" "0,$N,$N" "$rc,$(q oa 'SELECT count(*), count(DISTINCT id) FROM bronze.items')"
check_eq "oauth: one token for the whole run" 1 "$(tokens_issued)"
check_eq "oauth: one token request, the 6 pages once each" "1,1,1,1" \
    "$(stat /oauth/token),$(stat '/oauth2/offset/items?limit=10&offset=0'),$(stat '/oauth2/offset/items?limit=10&offset=40'),$(stat '/oauth2/offset/items?limit=10&offset=45')"
check_eq "oauth: client_credentials grant, HTTP basic client auth, form-encoded, scope and audience" \
    "basic client_credentials application/x-www-form-urlencoded read:items https://api.example.com None" \
    "$(token_request 0)"
toks=$(all_tokens)

# The server's tokens stop working after 2 uses while saying they last an
# hour: pages 1-2 use token 1, page 3 gets 401, token 2 serves pages 3-4,
# page 5 gets 401, token 3 serves pages 5-6.
oauth 3600 2
mkoauth oa2
run_smelt oa2
cp run.out oa2.out; cp run.err oa2.err
check_eq "oauth expiring mid-run: run succeeds with every record" "0,$N,$N" \
    "$rc,$(q oa2 'SELECT count(*), count(DISTINCT id) FROM bronze.items')"
check_eq "oauth expiring mid-run: 3 tokens, 2 answers of 401" "3,2" "$(tokens_issued),$(status_count 401)"
check_eq "oauth expiring mid-run: the refused pages were asked again once" "2,2,1" \
    "$(stat '/oauth2/offset/items?limit=10&offset=20'),$(stat '/oauth2/offset/items?limit=10&offset=40'),$(stat '/oauth2/offset/items?limit=10&offset=30')"
check_contains "oauth expiring mid-run: the run says the token was renewed" "access token renewed" "$(cat run.err)"
toks="$toks
$(all_tokens)"

# Tokens good for 2 s: smelt replaces them before they run out (at 1.5 s),
# so the API never refuses one. 10 pages at 4 requests/s take over 2 s.
oauth 2 0
LIMIT=5 mkoauth oa3 "" "rate_limit: 4"
run_smelt oa3
cp run.out oa3.out; cp run.err oa3.err
check_eq "oauth expires_in: run succeeds" "0,$N" "$rc,$(q oa3 'SELECT count(*) FROM bronze.items')"
n=$(tokens_issued)
if [ "$n" -ge 2 ]; then ok "oauth expires_in: a new token before the old one ran out ($n tokens)"; else not_ok "oauth expires_in: a new token before the old one ran out" "tokens: $n"; fi
check_eq "oauth expires_in: no request was refused" 0 "$(status_count 401)"
toks="$toks
$(all_tokens)"

# client_id and client_secret in the form instead of basic auth
oauth 3600 0
mkoauth oa4 "  client_auth: body"
run_smelt oa4
cp run.out oa4.out; cp run.err oa4.err
check_eq "oauth client_auth body: run succeeds" "0,$N" "$rc,$(q oa4 'SELECT count(*) FROM bronze.items')"
check_eq "oauth client_auth body: id and secret sent in the form" \
    "body client_credentials application/x-www-form-urlencoded read:items https://api.example.com smelt-client" \
    "$(token_request 0)"
toks="$toks
$(all_tokens)"

# The token endpoint fails once with 500: retried like any request.
oauth 3600 0
fault 500 "/oauth/token"
mkoauth oa5
run_smelt oa5
cp run.out oa5.out; cp run.err oa5.err
check_eq "oauth token endpoint 500: retried, run succeeds" "0,$N" "$rc,$(q oa5 'SELECT count(*) FROM bronze.items')"
check_eq "oauth token endpoint 500: 2 token requests, 1 token" "2,1" "$(stat /oauth/token),$(tokens_issued)"
toks="$toks
$(all_tokens)"

# The wrong secret: a clear error with the status and the OAuth error, no secret.
WRONG="wrong-$(date +%s)-s3cr3t"
oauth 3600 0 "$WRONG-not-this"
mkoauth oa6
run_smelt oa6
cp run.out oa6.out; cp run.err oa6.err
check_eq "oauth wrong secret: run fails" 1 "$rc"
check_contains "oauth wrong secret: status and OAuth error in the message" \
    "token request to '$BASE/oauth/token' answered HTTP 401 Unauthorized: invalid_client (client authentication failed): check 'token_url', 'client_id', 'client_secret' and 'scope' of 'auth' in sources/items.yml" \
    "$(cat run.err)"
check_eq "oauth wrong secret: no data request was made, nothing landed" "0,0" \
    "$(stat '/oauth2/offset/items?limit=10&offset=0'),$(ls oa6/lake/landing 2>/dev/null | wc -l | tr -d ' ')"
check_eq "oauth: no token was issued to a wrong secret" 0 "$(tokens_issued)"

# A secret written as a value is refused before any work.
mkproj oa7 <<EOF
kind: rest
base_url: $BASE
resource: oauth2/offset/items
auth:
  type: oauth2_client_credentials
  token_url: /oauth/token
  client_id: smelt-client
  client_secret: plain-text-secret
EOF
"$SMELT" -C oa7 run > oa7.out 2> oa7.err
check_eq "oauth literal client_secret: a configuration error (exit 2)" 2 "$?"
check_contains "oauth literal client_secret: file:line and what to write" \
    "sources/items.yml:8: 'client_secret' is written as a value" "$(cat oa7.err)"

# Neither the client secret nor any token issued is anywhere smelt writes.
outs="oa1.out oa1.err oa2.out oa2.err oa3.out oa3.err oa4.out oa4.err oa5.out oa5.err oa6.out oa6.err"
dirs="oa/.smelt oa/lake oa2/.smelt oa2/lake oa3/.smelt oa3/lake oa4/.smelt oa4/lake oa5/.smelt oa5/lake oa6/.smelt"
# shellcheck disable=SC2086
check_absent "oauth: the client secret is in no output, state.db or lake file" "$CS" $outs $dirs
ntok=0
leaked=""
for t in $toks; do
    ntok=$((ntok + 1))
    # shellcheck disable=SC2086
    if grep -r -a -l -F -- "$t" $outs $dirs > found.txt 2>/dev/null; then leaked="$leaked $t in $(tr '\n' ' ' < found.txt)"; fi
done
if [ "$ntok" -ge 8 ] && [ -z "$leaked" ]; then
    ok "oauth: none of the $ntok tokens issued is in any output, state.db or lake file"
else
    not_ok "oauth: no token issued is anywhere smelt writes" "tokens: $ntok" "leaked: $leaked"
fi

# --- bronze types from DuckDB's sample of the pages ---------------------------------------
# One record a page: 45 pages, more than the 32 DuckDB samples to infer types.
mkpages() { # DIR PARAM
    mkproj "$1" <<EOF
kind: rest
base_url: $BASE
resource: page/items
params: {$2}
records: data
paginate: {type: page, limit: 1, limit_param: per_page}
EOF
}
mkpages late "late_key: 40"
run_smelt late
check_eq "sampled types: a key first seen on page 40 is a column (the landing listed it)" "0,45,6,l45" \
    "$rc,$(q late 'SELECT count(*), count(late), max(late) FROM bronze.items')"
mkpages lstr "late_str: 40"
run_smelt lstr
check_eq "sampled types: numbers, then strings after the sample: every record, as JSON text" \
    "0,45,VARCHAR,1,\"\"\"s45\"\"\"" \
    "$rc,$(q lstr "SELECT count(*), any_value(typeof(num)), min(num) FILTER (WHERE id = 1), min(num) FILTER (WHERE id = 45) FROM bronze.items")"
mkpages nobj "nonobj: 7"
run_smelt nobj
check_eq "a record that is not an object: quarantined, the others loaded" "0,44,NOT AN OBJECT,7" \
    "$rc,$(q nobj 'SELECT count(*) FROM bronze.items'),$(q nobj 'SELECT any_value(error_type), any_value(raw) FROM quarantine.items')"

# --- parent/child endpoints ------------------------------------------------------------
# Record i has i % 7 parts, served 3 a page by /items/<i>/parts. Over records
# 1..45: 6 full cycles of 0+1+...+6 = 126, plus 43, 44, 45 -> 1+2+3 = 132
# parts, on 1+1+1+1+2+2+2 = 10 pages per cycle -> 60, plus 3 = 63 pages.
# Item 11 (11 % 7 = 4 parts, 2 pages) answers 404: 128 parts, 62 pages.
api /admin/reset > /dev/null
fault 404 "/items/11/parts?"
mkproj pc <<EOF
kind: rest
base_url: $BASE
resource: cursor/items
records: items
paginate: {type: cursor, limit: 10, cursor_path: meta.next_cursor}
incremental: {cursor_field: updated_at, param: updated_since}
EOF
cat > pc/sources/item_parts.yml <<EOF
kind: rest
base_url: $BASE
parent: items
path: items/{id}/parts
include_from_parent: [name]
records: data
paginate: {type: page, limit: 3, limit_param: per_page, has_more_path: has_more}
EOF
check_eq "parent/child: validate --dag shows the child's landing after its parent's" \
    "landing.items -> landing.item_parts" "$("$SMELT" -C pc validate --dag)"
run_smelt pc
cp run.err pc.err
check_eq "parent/child: run succeeds" 0 "$rc"
check_eq "parent/child: the parent is landed before its child (name order is the other way)" \
    "landing.items,bronze.items,landing.item_parts,bronze.item_parts" \
    "$(cut -d, -f1 run.out | grep -E '^(landing|bronze)' | paste -sd, -)"
check_eq "parent/child: every part of every parent but item 11" "128,38" \
    "$(q pc 'SELECT count(*), count(DISTINCT _items_id) FROM bronze.item_parts')"
check_eq "parent/child: 62 child pages landed (63, less item 11's 2, plus its 404)" 62 \
    "$(ls pc/lake/landing/item_parts/*/*/*/*/page-*.json | wc -l | tr -d ' ')"
check_eq "parent/child: rows carry the parent key (typed) and included fields" "6,BIGINT,item-6,6" \
    "$(q pc "SELECT count(*), any_value(typeof(_items_id)), any_value(_items_name), max(part) FROM bronze.item_parts WHERE _items_id = 6")"
check_eq "parent/child: a child paginates (item 6: 2 pages, no third)" "1,1,0" \
    "$(stat '/items/6/parts?per_page=3&page=1'),$(stat '/items/6/parts?per_page=3&page=2'),$(stat '/items/6/parts?per_page=3&page=3')"
check_eq "parent/child: _source_url is the child page's URL" "$BASE/items/6/parts?per_page=3&page=2" \
    "$(q pc "SELECT DISTINCT _source_url FROM bronze.item_parts WHERE _items_id = 6 AND part = 5")"
check_eq "parent/child: a parent without parts costs one request" 1 "$(stat '/items/7/parts?per_page=3&page=1')"
check_eq "parent/child: the 404 was not retried" 1 "$(stat '/items/11/parts?per_page=3&page=1')"
check_contains "parent/child: the run warns about the 404" 'answered HTTP 404 Not Found for parent {"_items_id":11' "$(cat pc.err)"
check_eq "parent/child: the 404 page is quarantined with its parent" "1,UNREADABLE FILE,1" \
    "$(q pc "SELECT count(*), any_value(error_type), count(*) FILTER (WHERE error LIKE 'HTTP 404 Not Found for parent {\"_items_id\":11,%') FROM quarantine.item_parts")"
check_match "parent/child: the bronze task reports it" "bronze.item_parts,success,128,128,1" "$(cat run.out)"
api /admin/reset > /dev/null
run_smelt pc
check_eq "parent/child: a rerun with no new parent records asks for no child" "0,0,128" \
    "$rc,$(api /stats | python3 -c 'import json,sys; print(sum(v for k, v in json.load(sys.stdin)["requests"].items() if k.startswith("/items/")))'),$(q pc 'SELECT count(*) FROM bronze.item_parts')"
# 7 new records 46..52 have 4+5+6+0+1+2+3 = 21 parts, from 6 of them (49 has none).
api /admin/grow?n=7 > /dev/null
api /admin/reset > /dev/null
run_smelt pc
check_eq "parent/child: an incremental parent fans out for its new records only" "0,21,6" \
    "$rc,$(q pc "SELECT count(*), count(DISTINCT _items_id) FROM bronze.item_parts WHERE _items_id > 45")"
check_eq "parent/child: old parents were not asked again" "0,1" \
    "$(stat '/items/6/parts?per_page=3&page=1'),$(stat '/items/52/parts?per_page=3&page=1')"
check_eq "parent/child: no part twice" "149,149" \
    "$(q pc "SELECT count(*), count(DISTINCT (_items_id, part)) FROM bronze.item_parts")"
# The child's bronze rebuilt from its landed pages alone (smelt ingest, the
# child without its parent): the same rows, parent keys and times included,
# the 404 page quarantined again, not one request to the API.
rows_sql="SELECT count(*), md5(string_agg(concat_ws('|', _items_id, _items_name, part, _batch_id, _source_file, _ingested_at, _source_url), ',' ORDER BY _source_file, part)) FROM bronze.item_parts"
quar_sql="SELECT count(*), md5(string_agg(concat_ws('|', _source_file, error_type, error, _batch_id, _quarantined_at), ',')) FROM quarantine.item_parts"
rows_before=$(q pc "$rows_sql")
quar_before=$(q pc "$quar_sql")
api /admin/reset > /dev/null
"$SMELT" -C pc ingest item_parts --rebuild-bronze --format csv > run.out 2> run.err
check_eq "parent/child: rebuild of the child's bronze: exits 0, its two tasks only" \
    "0,landing.item_parts|bronze.item_parts" "$?,$(tail -n +2 run.out | cut -d, -f1 | paste -sd'|')"
check_eq "parent/child: rebuild of the child's bronze: no request to the API" 0 "$(total_requests)"
check_eq "parent/child: rebuild of the child's bronze: the same 149 rows" "$rows_before" "$(q pc "$rows_sql")"
check_eq "parent/child: rebuild of the child's bronze: the same quarantine (the 404 page)" \
    "$quar_before" "$(q pc "$quar_sql")"
check_eq "parent/child: rebuild of the child's bronze: 149 rows before it" "149" "${rows_before%%,*}"
api /admin/set?n=45 > /dev/null

# A progress line for long transfers, on a terminal only: parents done of
# all, pages and bytes. 45 parent records, one page each at 20 requests/s.
mkproj pcp <<EOF
kind: rest
base_url: $BASE
resource: offset/items
records: data.items
paginate: {type: offset, limit: 50}
EOF
cat > pcp/sources/parts.yml <<EOF
kind: rest
base_url: $BASE
parent: items
path: items/{id}/parts
params: {per_page: 10}
records: data
rate_limit: 20
EOF
cp -r pcp pcq
run_smelt pcp
check_absent "progress: none when the output is not a terminal" "$(printf '\033[K')" run.out run.err
if command -v script > /dev/null; then
    env -u SMELT_NO_TTY script -qec "'$SMELT' -C pcq run" tty.log > /dev/null 2>&1 < /dev/null
    check_match "progress: on a terminal, parents done of all, pages and bytes" \
        "landing.parts +\[#*\.*\] [0-9]+/45 parents +[0-9]+ pages +[0-9.]+ kB" "$(tr '\r' '\n' < tty.log)"
else
    ok "progress: on a terminal (skipped: no 'script' command)"
fi

# Declared columns: the parent key is added, typed like the parent's values.
mkproj pcd <<EOF
kind: rest
base_url: $BASE
resource: offset/items
records: data.items
paginate: {type: offset, limit: 50}
EOF
cat > pcd/sources/parts.yml <<EOF
kind: rest
base_url: $BASE
parent: items
path: items/{id}/parts
params: {per_page: 10}
records: data
columns:
  part: INTEGER
  sku: VARCHAR
EOF
run_smelt pcd
check_eq "parent/child declared columns: run succeeds with every part" "0,132" "$rc,$(q pcd 'SELECT count(*) FROM bronze.parts')"
check_eq "parent/child declared columns: the parent key after the declared columns" \
    '"part:INTEGER,sku:VARCHAR,_items_id:BIGINT,_batch_id:VARCHAR"' \
    "$(q pcd "SELECT string_agg(column_name || ':' || column_type, ',') FROM (DESCRIBE SELECT * EXCLUDE (_source_file, _ingested_at, _source_url) FROM bronze.parts)")"

# Configuration errors point at the line.
mkproj pce <<EOF
kind: rest
base_url: $BASE
resource: offset/items
EOF
cat > pce/sources/parts.yml <<EOF
kind: rest
base_url: $BASE
parent: itemz
path: items/{id}/parts
EOF
"$SMELT" -C pce run > pce.out 2> pce.err
check_eq "parent/child: unknown parent is a configuration error" 2 "$?"
check_contains "parent/child: unknown parent: file:line and the nearest name" \
    "sources/parts.yml:3: unknown parent 'itemz': no source 'sources/itemz.yml' (did you mean 'items'?)" "$(cat pce.err)"
cat > pce/sources/parts.yml <<EOF
kind: rest
base_url: $BASE
records: data
path: items/{id}/parts
EOF
"$SMELT" -C pce run > pce.out 2> pce.err
check_contains "parent/child: a placeholder without parent: file:line" \
    "sources/parts.yml:4: a {field} placeholder is filled from the records of a parent source" "$(cat pce.err)"
cat > pce/sources/parts.yml <<EOF
kind: rest
base_url: $BASE
parent: items
path: items/{id/parts
EOF
"$SMELT" -C pce run > pce.out 2> pce.err
check_contains "parent/child: an unclosed placeholder: file:line and where" \
    "sources/parts.yml:4: 'path': placeholder at character 7 is not closed" "$(cat pce.err)"
cat > pce/sources/parts.yml <<EOF
kind: rest
base_url: $BASE
parent: items
path: items/parts
EOF
"$SMELT" -C pce run > pce.out 2> pce.err
check_contains "parent/child: a parent with nothing to fill: file:line" \
    "sources/parts.yml:3: 'parent: items' is set but neither the path nor 'params' has a {field} placeholder" "$(cat pce.err)"
cat > pce/sources/parts.yml <<EOF
kind: rest
base_url: $BASE
parent: items
path: items/{id}/parts
EOF
cat > pce/sources/items.yml <<EOF
kind: rest
base_url: $BASE
resource: parts/{part}
parent: parts
EOF
"$SMELT" -C pce run > pce.out 2> pce.err
check_contains "parent/child: parents in a cycle: file:line and the cycle" \
    "sources/items.yml:4: the parents of 'items' come back to it (items -> parts -> items)" "$(cat pce.err)"

kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
done_testing
