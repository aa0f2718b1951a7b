#!/bin/sh
# Run every test: unit tests (plain and ASan+UBSan builds) and end-to-end
# scenarios (with the plain binary and the sanitized one). Each test prints
# TAP lines ("ok N - name" / "not ok N - name"); this script counts them and
# ends with one line "N passed, N failed". Exit status 1 if anything failed.
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/tests/out"
rm -rf "$out"
mkdir -p "$out"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export CMOCKA_MESSAGE_OUTPUT=TAP
export SMELT_NO_TTY=1
export TESTDATA="$root/../shared/testdata"
pass=0
fail=0
failed_names=""

count() { # $1 = log file, $2 = label, $3 = exit status
    p=$(grep -c '^ok ' "$1")
    f=$(grep -c '^not ok ' "$1")
    if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
        # crashed or sanitizer report without a TAP failure line
        f=1
        echo "not ok - $2 exited with status $3" >> "$1"
    fi
    pass=$((pass + p))
    fail=$((fail + f))
    if [ "$f" -gt 0 ]; then
        failed_names="$failed_names $2"
        echo "FAIL $2 (see $1):"
        grep -E '^not ok|ERROR|runtime error|AddressSanitizer|LeakSanitizer' "$1" | head -20
    else
        echo "pass $2 ($p)"
    fi
}

for t in build/rel/tests/test_* build/san/tests/test_*; do
    [ -x "$t" ] || continue
    label=$(echo "$t" | sed 's|build/||; s|/tests/|:|')
    log="$out/$(echo "$label" | tr ':/' '__').log"
    (cd "$out" && "$root/$t") > "$log" 2>&1
    count "$log" "$label" $?
done

for s in tests/e2e/*.sh; do
    [ "$(basename "$s")" = lib.sh ] && continue
    for bin in build/smelt build/san/smelt; do
        label="$(basename "$s" .sh):$(dirname "$bin" | sed 's|build/*||; s|^$|rel|')"
        [ "$bin" = build/smelt ] && label="$(basename "$s" .sh):rel"
        log="$out/e2e_$(echo "$label" | tr ':' '_').log"
        SMELT="$root/$bin" DUCKQ="$root/build/duckq" \
            SAN=$([ "$bin" = build/smelt ] && echo 0 || echo 1) \
            sh "$s" > "$log" 2>&1
        count "$log" "$label" $?
    done
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
