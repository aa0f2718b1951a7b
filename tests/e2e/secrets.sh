#!/bin/sh
# `smelt secrets`: set, get, list, rotate, rekey and rm with the master key
# in .smelt/master.key (created 0600 on first use) and in SMELT_MASTER_KEY
# (hex and base64). A value is read from stdin only, never from argv, and
# appears nowhere but in the stdout of `get`: not in any other output of any
# command, not in state.db, not in any file under .smelt/. A state.db copied
# to another project without its key reveals the names and nothing else.
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
unset SMELT_MASTER_KEY SMELT_NEW_MASTER_KEY
mkdir out

# check_match NAME ERE TEXT: TEXT has a line matching the extended regex ERE
check_match() {
    if printf '%s\n' "$3" | grep -Eq -- "$2"; then ok "$1"; else not_ok "$1" "expected to match: $2" "actual: $3"; fi
}
# check_status NAME EXPECTED ACTUAL ID: like check_eq, showing stderr of ID
check_status() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected exit $2, got $3" "$(cat "out/$4.err")"; fi
}
# sm ID INPUT ARGS...: run smelt with INPUT and a newline on stdin ("-" for
# none); stdout and stderr go to out/ID.out and out/ID.err. Only IDs that
# start with "reveal_" may print a value, and only on stdout.
# SM_ENV holds extra VAR=VALUE words for the environment of smelt.
SM_ENV=
sm() {
    sm_id=$1 sm_in=$2
    shift 2
    if [ "$sm_in" = - ]; then
        env $SM_ENV "$SMELT" "$@" < /dev/null > "out/$sm_id.out" 2> "out/$sm_id.err"
    else
        printf '%s\n' "$sm_in" | env $SM_ENV "$SMELT" "$@" > "out/$sm_id.out" 2> "out/$sm_id.err"
    fi
}
# smk KEY ID INPUT ARGS...: sm with SMELT_MASTER_KEY=KEY
smk() {
    SM_ENV="SMELT_MASTER_KEY=$1"
    shift
    sm "$@"
    smk_rc=$?
    SM_ENV=
    return $smk_rc
}
# mode FILE: permission bits in octal
mode() { stat -c %a "$1"; }
# hexkey FILE: 32 random bytes in FILE, printed as 64 hex digits
hexkey() { head -c 32 /dev/urandom > "$1" && od -An -tx1 -v "$1" | tr -d ' \n'; }

V1='Zq7first-VALUE-x81'    # api_token, then rotated to V2
V2='Rk4second-VALUE-p09'
V3='Db9password-VALUE-w27' # db_password
V4='Env8only-VALUE-m55'    # stored with SMELT_MASTER_KEY
V5='Argv3never-VALUE-k40'  # given on the command line: refused
ALL_VALUES="$V1 $V2 $V3 $V4 $V5"

for p in p q e; do
    if ! "$SMELT" init "$p" --rows 40 --days 2 > "out/init_$p.out" 2>&1; then
        not_ok "smelt init $p" "$(cat "out/init_$p.out")"
        done_testing
        exit 1
    fi
done
ok "smelt init creates three projects"

# --- set, get, list with a key file ------------------------------------------
sm set1 "$V1" -C p secrets set api_token
check_status "set: exit 0" 0 $? set1
check_contains "set: says what it stored" "stored secret 'api_token'" "$(cat out/set1.out)"
check_contains "set: tells to back up the new key" "created master key" "$(cat out/set1.err)"
check_eq "set: key file created with mode 600" 600 "$(mode p/.smelt/master.key)"
check_eq "set: key file is 64 hex digits and a newline" 65 "$(wc -c < p/.smelt/master.key | tr -d ' ')"

sm reveal_get1 - -C p secrets get api_token
check_status "get: exit 0" 0 $? reveal_get1
check_eq "get: prints the value" "$V1" "$(cat out/reveal_get1.out)"
check_eq "get: nothing on stderr" "" "$(cat out/reveal_get1.err)"

sm list1 - -C p secrets list --format csv
check_status "list: exit 0" 0 $? list1
check_eq "list csv: header" "name,created_at,rotated_at" "$(head -1 out/list1.out)"
check_match "list csv: name and creation date, not rotated" \
    '^api_token,[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9.]+Z,$' "$(cat out/list1.out)"
created=$(grep '^api_token,' out/list1.out | cut -d, -f2)
sm list1j - -C p secrets list --format json
check_contains "list json: name and null rotated_at" \
    "{\"name\":\"api_token\",\"created_at\":\"$created\",\"rotated_at\":null}" "$(cat out/list1j.out)"
sm list1t - -C p secrets list --format table
check_match "list table: header" '^name +\| created_at +\| rotated_at' "$(cat out/list1t.out)"
check_contains "list table: row count" "(1 secret)" "$(cat out/list1t.out)"
sm list1bad - -C p secrets list --format xml
check_status "list: unknown format is a usage error" 2 $? list1bad

# --- refusals ------------------------------------------------------------------
sm set_again "$V2" -C p secrets set api_token
check_status "set: an existing name is refused" 1 $? set_again
check_contains "set: says to rotate instead" "smelt secrets rotate api_token" "$(cat out/set_again.err)"
sm set_argv - -C p secrets set argv_token "$V5"
check_status "set: a value on the command line is refused" 2 $? set_argv
check_contains "set: says why" "process list" "$(cat out/set_argv.err)"
check_contains "set: says to use stdin" "stdin" "$(cat out/set_argv.err)"
sm set_empty "" -C p secrets set empty_token
check_status "set: an empty value is refused" 2 $? set_empty
sm set_badname "$V2" -C p secrets set 'bad-name'
check_status "set: an invalid name is refused" 2 $? set_badname
check_contains "set: says what a name may hold" "invalid secret name 'bad-name'" "$(cat out/set_badname.err)"
sm get_missing - -C p secrets get nope
check_status "get: unknown name" 1 $? get_missing
check_contains "get: names the missing secret" "no secret 'nope'" "$(cat out/get_missing.err)"
sm rot_missing "$V2" -C p secrets rotate nope
check_status "rotate: unknown name" 1 $? rot_missing
check_contains "rotate: says to set it" "smelt secrets set nope" "$(cat out/rot_missing.err)"
sm sub_bad - -C p secrets show api_token
check_status "unknown subcommand is a usage error" 2 $? sub_bad
mkdir noproj
sm noproj - -C noproj secrets list
check_status "no smelt.yml: fails" 1 $? noproj
check_contains "no smelt.yml: says so" "no smelt.yml in 'noproj'" "$(cat out/noproj.err)"
check_eq "no smelt.yml: creates nothing" "" "$(ls -A noproj)"

# --- rotate ------------------------------------------------------------------------
sm rot1 "$V2" -C p secrets rotate api_token
check_status "rotate: exit 0" 0 $? rot1
sm reveal_get2 - -C p secrets get api_token
check_eq "rotate: get prints the new value" "$V2" "$(cat out/reveal_get2.out)"
sm list2 - -C p secrets list --format csv
check_match "rotate: list shows the rotation date" \
    "^api_token,$created,[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z\$" "$(cat out/list2.out)"

sm set2 "$V3" -C p secrets set db_password
check_status "set: a second secret" 0 $? set2
sm list3 - -C p secrets list --format csv
check_eq "list: both names, sorted" "api_token db_password" "$(tail -n +2 out/list3.out | cut -d, -f1 | tr '\n' ' ' | sed 's/ $//')"

# --- key file permissions ---------------------------------------------------------
chmod 644 p/.smelt/master.key
sm perm - -C p secrets get api_token
check_status "a key file readable by others is refused" 2 $? perm
check_contains "the refusal says to chmod 600" "chmod 600" "$(cat out/perm.err)"
chmod 640 p/.smelt/master.key
sm perm2 "$V3" -C p secrets rotate db_password
check_status "a key file readable by the group is refused for writes too" 2 $? perm2
chmod 600 p/.smelt/master.key

# --- rekey (key file) -----------------------------------------------------------------
cp p/.smelt/master.key old.key
sm rekey1 - -C p secrets rekey
check_status "rekey: exit 0" 0 $? rekey1
check_contains "rekey: says how many" "re-encrypted 2 secrets" "$(cat out/rekey1.out)"
if cmp -s old.key p/.smelt/master.key; then not_ok "rekey: a new key file"; else ok "rekey: a new key file"; fi
check_eq "rekey: new key file has mode 600" 600 "$(mode p/.smelt/master.key)"
check_eq "rekey: no key file left behind" "no" "$([ -e p/.smelt/master.key.new ] && echo yes || echo no)"
sm reveal_get3 - -C p secrets get api_token
sm reveal_get4 - -C p secrets get db_password
check_eq "rekey: values unchanged" "$V2 $V3" "$(cat out/reveal_get3.out) $(cat out/reveal_get4.out)"
sm list4 - -C p secrets list --format csv
check_eq "rekey: dates unchanged" "$(cat out/list3.out)" "$(cat out/list4.out)"
smk "$(cat old.key)" oldkey - -C p secrets get api_token
check_status "rekey: the old key no longer opens the secrets" 2 $? oldkey
check_contains "rekey: the old key fails clearly" "cannot decrypt secret 'api_token'" "$(cat out/oldkey.err)"

# A rekey that stopped after its commit but before installing the key file
# is finished by the next command; one that stopped before, undone.
cp p/.smelt/master.key k2.key
sm rekey2 - -C p secrets rekey
mv p/.smelt/master.key p/.smelt/master.key.new
cp k2.key p/.smelt/master.key
chmod 600 p/.smelt/master.key
sm reveal_heal1 - -C p secrets get api_token
check_eq "interrupted rekey (after commit): finished by the next get" "$V2" "$(cat out/reveal_heal1.out)"
check_eq "interrupted rekey (after commit): new key installed" "no" \
    "$([ -e p/.smelt/master.key.new ] && echo yes || echo no)"
cp p/.smelt/master.key k3.key
hexkey junk.bin > p/.smelt/master.key.new
echo >> p/.smelt/master.key.new
chmod 600 p/.smelt/master.key.new
sm reveal_heal2 - -C p secrets get db_password
check_eq "interrupted rekey (before commit): undone by the next get" "$V3" "$(cat out/reveal_heal2.out)"
check_eq "interrupted rekey (before commit): key kept, stray key removed" "same no" \
    "$(cmp -s k3.key p/.smelt/master.key && echo same || echo differs) $([ -e p/.smelt/master.key.new ] && echo yes || echo no)"

printf '0123' > p/.smelt/master.key.new # torn: the rekey died while writing it
chmod 600 p/.smelt/master.key.new
sm reveal_heal3 - -C p secrets get db_password
check_eq "interrupted rekey (torn key file): removed by the next get" "$V3 no" \
    "$(cat out/reveal_heal3.out) $([ -e p/.smelt/master.key.new ] && echo yes || echo no)"

# --- state.db copied to another project ----------------------------------------------
mkdir -p q/.smelt
cp p/.smelt/state.db q/.smelt/state.db
sm q_list - -C q secrets list --format csv
check_status "copied state.db: list works without the key" 0 $? q_list
check_eq "copied state.db: list shows the names" "api_token db_password" "$(tail -n +2 out/q_list.out | cut -d, -f1 | tr '\n' ' ' | sed 's/ $//')"
sm q_get - -C q secrets get api_token
check_status "copied state.db: get fails without the key" 1 $? q_get
check_contains "copied state.db: says there is no master key" "no master key" "$(cat out/q_get.err)"
check_eq "copied state.db: get prints nothing" "" "$(cat out/q_get.out)"
check_eq "copied state.db: get creates no key" "no" "$([ -e q/.smelt/master.key ] && echo yes || echo no)"
sm q_set "$V4" -C q secrets set other
check_status "copied state.db: no new key is made beside secrets under a lost one" 2 $? q_set
check_contains "copied state.db: says why" "no master key" "$(cat out/q_set.err)"
smk "$(hexkey other.bin)" q_get2 - -C q secrets get api_token
check_status "copied state.db: another key fails" 2 $? q_get2
check_contains "copied state.db: another key fails clearly" \
    "cannot decrypt secret 'api_token' with the master key from SMELT_MASTER_KEY" "$(cat out/q_get2.err)"
cp p/.smelt/master.key q/.smelt/master.key
sm reveal_q_get3 - -C q secrets get api_token
check_eq "copied state.db: with the key file copied too, get works" "$V2" "$(cat out/reveal_q_get3.out)"

# --- SMELT_MASTER_KEY ---------------------------------------------------------------------
HEX=$(hexkey env.bin)
B64=$(base64 < env.bin | tr -d '\n')
smk "$HEX" e_set "$V4" -C e secrets set env_token
check_status "env key (hex): set" 0 $? e_set
check_eq "env key: no key file written" "no" "$([ -e e/.smelt/master.key ] && echo yes || echo no)"
smk "$B64" reveal_e_get - -C e secrets get env_token
check_eq "env key (base64 of the same key): get" "$V4" "$(cat out/reveal_e_get.out)"
sm e_get_nokey - -C e secrets get env_token
check_status "env key unset: get fails" 1 $? e_get_nokey
check_contains "env key unset: says where the key was looked for" "SMELT_MASTER_KEY is not set" "$(cat out/e_get_nokey.err)"
smk 0123456789abcdef e_bad - -C e secrets get env_token
check_status "malformed env key: usage error" 2 $? e_bad
check_contains "malformed env key: says what a key looks like" \
    "SMELT_MASTER_KEY is not a valid master key: expected 64 hex digits or the base64 of 32 bytes" "$(cat out/e_bad.err)"
check_eq "malformed env key: not echoed" 0 "$(grep -c 0123456789abcdef out/e_bad.err)"
smk "$HEX" e_rekey - -C e secrets rekey
check_status "env key: rekey needs SMELT_NEW_MASTER_KEY" 2 $? e_rekey
check_contains "env key: rekey says so" "SMELT_NEW_MASTER_KEY" "$(cat out/e_rekey.err)"
NEWHEX=$(hexkey env2.bin)
SM_ENV="SMELT_MASTER_KEY=$HEX SMELT_NEW_MASTER_KEY=$NEWHEX"
sm e_rekey2 - -C e secrets rekey
check_status "env key: rekey with SMELT_NEW_MASTER_KEY" 0 $? e_rekey2
SM_ENV=
smk "$NEWHEX" reveal_e_get2 - -C e secrets get env_token
check_eq "env key: the new key opens the secret" "$V4" "$(cat out/reveal_e_get2.out)"
smk "$HEX" e_get3 - -C e secrets get env_token
check_status "env key: the old key does not" 2 $? e_get3
check_eq "env key: still no key file" "no" "$([ -e e/.smelt/master.key ] && echo yes || echo no)"

# --- rm --------------------------------------------------------------------------------------
sm rm1 - -C p secrets rm api_token
check_status "rm: exit 0" 0 $? rm1
sm rm_get - -C p secrets get api_token
check_status "rm: the secret is gone" 1 $? rm_get
sm rm_again - -C p secrets rm api_token
check_status "rm: twice fails" 1 $? rm_again
check_contains "rm: names the missing secret" "no secret 'api_token'" "$(cat out/rm_again.err)"
sm list5 - -C p secrets list --format csv
check_eq "rm: list shows the rest" "db_password" "$(tail -n +2 out/list5.out | cut -d, -f1)"

# --- the values appear nowhere else ----------------------------------------------------------
leaks=""
for v in $ALL_VALUES; do
    for f in out/*; do
        case "$f" in out/reveal_*.out) continue ;; esac
        if grep -a -q -F -- "$v" "$f"; then leaks="$leaks $f"; fi
    done
done
check_eq "no value in any other stdout or stderr" "" "$leaks"
for p in p q e; do
    n=0
    for v in $ALL_VALUES; do
        c=$(grep -a -c -F -- "$v" "$p/.smelt/state.db")
        n=$((n + c))
    done
    check_eq "no value in $p/.smelt/state.db" 0 "$n"
    check_eq "no value in any file under $p/.smelt/" "" "$(grep -a -r -l -F -e "$V1" -e "$V2" -e "$V3" -e "$V4" -e "$V5" "$p/.smelt" || true)"
done
[ "$(grep -a -c -F db_password p/.smelt/state.db)" -ge 1 ]
check_eq "the name is in state.db (names are not secret)" 0 $?

done_testing
