#!/bin/sh
# Configuration errors stop smelt before any work: exit status 2, the file and
# line of the mistake and a hint on stderr, and nothing written — neither in a
# project that was never run (no lake/, no .smelt/state.db) nor in one that
# was (every file under the project byte-for-byte the same, although new input
# is waiting to be landed). `smelt validate` reports the same message.
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1

# check_match NAME ERE TEXT: TEXT has a line matching the extended regex ERE
check_match() {
    if printf '%s\n' "$3" | grep -Eq -- "$2"; then ok "$1"; else not_ok "$1" "expected to match: $2" "actual: $3"; fi
}

# snapshot DIR: every file under DIR with its size and sha256, sorted by path
snapshot() {
    (cd "$1" && find . -type f -printf '%p %s\n' | LC_ALL=C sort &&
        find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2)
}

# --- templates: a fresh tiny project, and the same project after a run ---------
if ! "$SMELT" init tmpl --rows 40 --days 2 > init.out 2>&1; then
    not_ok "smelt init tmpl" "$(cat init.out)"
    done_testing
    exit 1
fi
ok "smelt init creates the template project"
(cd tmpl && "$SMELT" validate > ../v.out 2> ../v.err)
check_eq "validate: exit 0 on the fresh good project" 0 $?
check_eq "validate: nothing on stderr for a good project" "" "$(cat v.err)"
check_eq "validate: does not create lake/ or .smelt/state.db" "no no" \
    "$([ -e tmpl/lake ] && echo yes || echo no) $([ -e tmpl/.smelt/state.db ] && echo yes || echo no)"

cp -R tmpl ran
(cd ran && "$SMELT" run --format csv > ../ran.out 2> ../ran.err)
check_eq "the template project runs (exit 0)" 0 $?
[ -f ran/.smelt/state.db ] && [ -d ran/lake/bronze ]
check_eq "the run created lake/bronze and .smelt/state.db" 0 $?
# new input waiting: a broken run that did any work would land it
printf 'store_id,name,city,region\n99,Test Store,Testville,North\n' > ran/incoming/stores/stores_new.csv
(cd ran && "$SMELT" validate > ../v.out 2> ../v.err)
check_eq "validate: exit 0 on the already-run good project" 0 $?

# --- the mistakes: each function breaks the project in the current folder ------
# and prints the expected location as an ERE matched against stderr.
m_yaml_tab() { # a tab used for indentation on line 4
    printf 'name: tmpl\nlake: lake\ndefaults:\n\tthreads: 2\n' > smelt.yml
    echo 'smelt\.yml:4:'
}
m_yaml_value() { # "lake: lake: x" on line 2: a mapping value where none may be
    printf 'name: tmpl\nlake: lake: x\ndefaults:\n  threads: 2\n' > smelt.yml
    echo 'smelt\.yml:2:'
}
m_yaml_unclosed() { # an unclosed flow sequence on line 2, the file's last line
    printf 'name: tmpl\nlake: [lake\n' > smelt.yml
    echo 'smelt\.yml:2:'
}
m_unknown_key() { # 'glbo' for 'glob' in a source
    sed 's/^glob:/glbo:/' sources/stores.yml > s.tmp && mv s.tmp sources/stores.yml
    echo "sources/stores\\.yml:$(grep -n '^glbo:' sources/stores.yml | cut -d: -f1):"
}
m_unknown_option() { # 'delimter' for 'delimiter' inside options
    sed 's/delimiter:/delimter:/' sources/stores.yml > s.tmp && mv s.tmp sources/stores.yml
    echo "sources/stores\\.yml:$(grep -n 'delimter:' sources/stores.yml | cut -d: -f1):"
}
m_missing_format() { # the required key 'format' removed
    grep -v '^format:' sources/stores.yml > s.tmp && mv s.tmp sources/stores.yml
    echo 'sources/stores\.yml:[0-9]+:'
}
m_missing_table() { # silver.nope, referenced on line 3
    printf 'SELECT o.order_id\nFROM silver.orders AS o\nJOIN silver.nope AS n USING (order_id)\n' > models/gold/x.sql
    echo 'models/gold/x\.sql:3:'
}
m_cycle() { # silver.a reads silver.b (line 2), silver.b reads silver.a (line 3)
    printf 'SELECT *\nFROM silver.b\n' > models/silver/a.sql
    printf 'SELECT *\n\nFROM silver.a\n' > models/silver/b.sql
    echo '(models/silver/a\.sql:2:|models/silver/b\.sql:3:)'
}
m_bad_sql() { # "= =" on line 3
    printf 'SELECT order_id\nFROM bronze.orders\nWHERE order_id = = 1\nORDER BY 1\n' > models/silver/x.sql
    echo 'models/silver/x\.sql:3:'
}
m_not_select_plain() { # DELETE instead of SELECT
    printf 'DELETE FROM bronze.orders\n' > models/silver/x.sql
    echo 'models/silver/x\.sql:1:'
}
m_not_select() { # a DELETE on line 3, after a comment header like every model has
    printf -- '-- x: remove the test order\n\nDELETE FROM bronze.orders\nWHERE order_id = 1\n' > models/silver/x.sql
    echo 'models/silver/x\.sql:3:'
}
m_unqualified() { # 'orders' without its zone, on line 2
    printf 'SELECT order_id\nFROM orders\n' > models/silver/x.sql
    echo 'models/silver/x\.sql:2:'
}
m_platinum() { # a zone folder that does not exist
    mkdir -p models/platinum && printf 'SELECT 1 AS a\n' > models/platinum/x.sql
    echo 'models/platinum'
}
m_no_project() { # smelt.yml removed
    rm -f smelt.yml
    echo 'smelt\.yml'
}

# hint ERE (case-insensitive) per mistake
hint_for() {
    case $1 in
    yaml_tab) echo 'tab' ;;
    yaml_value) echo 'mapping values|not allowed' ;;
    yaml_unclosed) echo "\\]|flow sequence|unclosed" ;;
    unknown_key) echo "unknown key 'glbo'.*did you mean 'glob'" ;;
    unknown_option) echo "unknown key 'delimter'.*did you mean 'delimiter'" ;;
    missing_format) echo "missing.*'format'" ;;
    missing_table) echo "silver\\.nope.*(does not exist|not found|unknown)" ;;
    cycle) echo 'cycle.*silver\.(a|b).*silver\.(a|b)' ;;
    bad_sql) echo 'parse|syntax' ;;
    not_select | not_select_plain) echo 'SELECT' ;;
    unqualified) echo "'orders'.*bronze\\.orders" ;;
    platinum) echo "platinum.*silver.*gold" ;;
    no_project) echo 'smelt init' ;;
    esac
}

CASES="yaml_tab yaml_value yaml_unclosed unknown_key unknown_option missing_format missing_table
cycle bad_sql not_select_plain not_select unqualified platinum no_project"

for c in $CASES; do
    hint=$(hint_for "$c")

    # never-run project
    d=fresh_$c
    cp -R tmpl "$d"
    loc=$(cd "$d" && "m_$c")
    before=$(snapshot "$d")
    (cd "$d" && "$SMELT" run > ../run.out 2> ../run.err)
    check_eq "$c (fresh): smelt run exits 2" 2 $?
    err=$(cat run.err)
    check_match "$c (fresh): stderr names the place ($loc)" "$loc" "$err"
    if printf '%s\n' "$err" | grep -Eiq -- "$hint"; then ok "$c (fresh): stderr says what is wrong"; else
        not_ok "$c (fresh): stderr says what is wrong" "expected to match (ignoring case): $hint" "actual: $err"; fi
    check_eq "$c (fresh): nothing on stdout" "" "$(cat run.out)"
    check_eq "$c (fresh): no lake/ and no .smelt/state.db" "no no" \
        "$([ -e "$d/lake" ] && echo yes || echo no) $([ -e "$d/.smelt/state.db" ] && echo yes || echo no)"
    after=$(snapshot "$d")
    if [ "$before" = "$after" ]; then ok "$c (fresh): no file created or changed"; else
        not_ok "$c (fresh): no file created or changed" "$(printf '%s\n' "$before" > b.txt; printf '%s\n' "$after" > a.txt; diff b.txt a.txt | head -8)"; fi
    (cd "$d" && "$SMELT" validate > ../val.out 2> ../val.err)
    check_eq "$c (fresh): smelt validate exits 2" 2 $?
    check_eq "$c (fresh): smelt validate prints the same message" "$err" "$(cat val.err)"

    # already-run project with new input waiting
    d=ran_$c
    cp -R ran "$d"
    (cd "$d" && "m_$c" > /dev/null)
    before=$(snapshot "$d")
    (cd "$d" && "$SMELT" run > ../run.out 2> ../run.err)
    check_eq "$c (after a run): smelt run exits 2" 2 $?
    check_match "$c (after a run): stderr names the place ($loc)" "$loc" "$(cat run.err)"
    after=$(snapshot "$d")
    n=$(printf '%s\n' "$before" | grep -c '^\./lake/.* [0-9]*$\|^\./\.smelt/state\.db [0-9]*$')
    if [ "$before" = "$after" ] && [ "$n" -gt 10 ]; then ok "$c (after a run): lake/ and state.db unchanged ($n files)"; else
        not_ok "$c (after a run): lake/ and state.db unchanged ($n files)" "$(printf '%s\n' "$before" > b.txt; printf '%s\n' "$after" > a.txt; diff b.txt a.txt | head -8)"; fi
done

done_testing
