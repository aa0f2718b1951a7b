# Shared helpers for end-to-end tests (sourced, POSIX sh).
# Environment (set by tests/run.sh): SMELT (binary under test), DUCKQ (a tiny
# DuckDB runner independent of smelt: `$DUCKQ "SQL" ...` prints the last
# statement's result as CSV with a header), TESTDATA (../shared/testdata),
# SAN (1 when SMELT is the ASan+UBSan build: use smaller data).
# Each check prints one TAP line: "ok N - name" or "not ok N - name".
set -u
: "${SMELT:?}" "${DUCKQ:?}" "${TESTDATA:?}"
SAN=${SAN:-0}
T_N=0
T_FAILED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/smelt-e2e.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $1"; }
not_ok() { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $1"; shift; for l in "$@"; do echo "#   $l"; done; }

# check_eq NAME EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "actual:   $3"; fi
}
# check_contains NAME NEEDLE HAYSTACK
check_contains() {
    case "$3" in *"$2"*) ok "$1" ;; *) not_ok "$1" "expected to contain: $2" "actual: $3" ;; esac
}
# check_files_eq NAME EXPECTED_FILE ACTUAL_FILE
check_files_eq() {
    if cmp -s "$2" "$3"; then ok "$1"; else not_ok "$1" "files differ: $2 $3" "$(diff "$2" "$3" | head -10)"; fi
}
# smelt_q DIR SQL -> CSV result of smelt query (header + rows)
smelt_q() { "$SMELT" -C "$1" query --format csv "$2"; }
# duck SQL... -> CSV result computed by DuckDB directly
duck() { "$DUCKQ" "$@"; }
done_testing() { echo "1..$T_N"; [ "$T_FAILED" -eq 0 ]; }
