#!/bin/sh
# test_ctl_security.sh - samspilctl's security and privacy commands against
# the suite tests/run-tests.sh started (issue 4): key create writes a 0600
# certificate that works with --key, key list shows it, an integrator is
# refused another tenant and does not see contact points, a reader is
# refused actor reads, a non-operator cannot manage keys, key revoke shuts
# the key out; person export prints one JSON document with everything
# registration holds, person erase needs --yes off a terminal and leaves
# none of the person's values; key rotate-data re-seals and contact points
# stay readable.  The key part needs a suite with CURVE keys
# ($SAMSPIL_HOME/keys/operator.cert); without them it is skipped.
# Prints TAP-style "ok - " / "not ok - " lines.
#
# Tenants 165 and 167.
#
# shellcheck disable=SC2034 # variables read inside check's CONDITION strings
set -u

: "${SAMSPIL_BIN:?run through tests/run-tests.sh}"
: "${SAMSPIL_BROKER:?run through tests/run-tests.sh}"
: "${SAMSPIL_HOME:?run through tests/run-tests.sh}"
CTL="$SAMSPIL_BIN/samspilctl"
TA=165
TB=167
NONCE="$(date +%s)$$"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failed=0

pass() { echo "ok - $1"; }
skip() { echo "ok - $1 # SKIP $2"; }
fail() {
    echo "not ok - $1 # $2"
    failed=1
}
# check NAME DETAIL CONDITION: CONDITION is shell text, evaluated now
check() {
    if eval "$3"; then pass "$1"; else fail "$1" "$2"; fi
}

# run ARGS...: samspilctl with a time limit; leaves $rc, $TMP/out, $TMP/err
run() {
    timeout 120 "$CTL" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
    rc=$?
}
detail() { printf 'exit %s, stdout "%s", stderr "%s"' "$rc" "$(head -c 300 "$TMP/out" | tr '\n' '|')" "$(head -c 300 "$TMP/err" | tr '\n' '|')"; }

# json_ok FILE: one JSON document (python3 or jq when present, else its shape)
json_ok() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null
    elif command -v jq >/dev/null 2>&1; then
        jq -e . "$1" >/dev/null 2>&1
    else
        head -c 1 "$1" | grep -q '{' && tail -c 2 "$1" | grep -q '}'
    fi
}

mode_of() { stat -c %a "$1" 2>/dev/null; }

# ---------------------------------------------------------------- data (as the operator)
# (a suite used before may have them already)
for t in "$TA Albertslund Kommune" "$TB Hvidovre Kommune"; do
    run tenant create --code "${t%% *}" --name "${t#* }"
    [ "$rc" -eq 0 ] || grep -q already_exists "$TMP/err" || fail "tenant create ${t%% *}" "$(detail)"
done
NAME="Sikker Borger $NONCE"
EMAIL="sikker.$NONCE@example.dk"
PHONE="5$(printf '%07d' $(($$ % 10000000)))"
run --tenant $TA actor create --kind citizen --name "$NAME" --email "$EMAIL" --phone "$PHONE" \
    --vulnerable --interest skole --external-ref "sag:sec-$NONCE"
ID=$(cat "$TMP/out")
check "operator creates a citizen with contact points" "$(detail)" '[ "$rc" -eq 0 ] && [ -n "$ID" ]'
run --tenant $TA partnership create --name "Sikker Partnerskab $NONCE"
P=$(cat "$TMP/out")
run --tenant $TA member add --partnership "$P" --actor "$ID" --role recipient --knowledge experiential
run --tenant $TA consent record --actor "$ID" --purpose contact --channel paper --text-version 2026-01
check "membership and consent recorded" "$(detail)" '[ "$rc" -eq 0 ]'

# ---------------------------------------------------------------- keys
run --key "$TMP/none.cert" status
check "--key naming a missing file: exit 2 naming it" "$(detail)" \
    '[ "$rc" -eq 2 ] && grep -q "$TMP/none.cert" "$TMP/err"'

if [ ! -f "$SAMSPIL_HOME/keys/operator.cert" ] || [ "${SAMSPIL_PLAINTEXT:-}" = 1 ]; then
    skip "key commands" "the suite runs without CURVE keys"
else
    KI="ctl-int-$NONCE"
    run key create --name "$KI" --role integrator --tenant $TA --out "$TMP/int.cert"
    check "key create prints the certificate's path" "$(detail)" \
        '[ "$rc" -eq 0 ] && [ "$(cat "$TMP/out")" = "$TMP/int.cert" ]'
    check "the certificate is mode 600 with the key pair and the broker's key" \
        "mode $(mode_of "$TMP/int.cert")" \
        '[ "$(mode_of "$TMP/int.cert")" = 600 ] && grep -q "^secret-key = " "$TMP/int.cert" &&
         grep -q "^broker-key = " "$TMP/int.cert" && grep -q "^name = $KI" "$TMP/int.cert" &&
         grep -q "^role = integrator" "$TMP/int.cert" && grep -q "^tenants = $TA" "$TMP/int.cert"'
    PUB=$(sed -n 's/^public-key = //p' "$TMP/int.cert")
    run key list
    check "key list shows the key with its role, tenant and public key" "$(detail)" \
        '[ "$rc" -eq 0 ] && grep "^$KI " "$TMP/out" | grep -w integrator | grep -w $TA | grep -qF -- "$PUB"'
    run -o json key list
    check "key list -o json is one document with items" "$(detail)" \
        '[ "$rc" -eq 0 ] && json_ok "$TMP/out" && grep -q "\"items\"" "$TMP/out"'
    run key create --name "$KI-2" --role integrator --tenant $TA --out "$TMP/int.cert"
    check "key create never replaces a certificate file" "$(detail)" \
        '[ "$rc" -eq 1 ] && grep -q "exists" "$TMP/err" && [ "$(sed -n "s/^public-key = //p" "$TMP/int.cert")" = "$PUB" ]'
    run key list
    check "... and registers nothing then" "$(detail)" '! grep -q "^$KI-2 " "$TMP/out"'
    run key create --name "$KI" --role integrator --tenant $TA --out "$TMP/dup.cert"
    check "a name taken by a valid key: exit 1, no file" "$(detail)" \
        '[ "$rc" -eq 1 ] && [ ! -e "$TMP/dup.cert" ]'
    run key create --name "ctl-rd-$NONCE" --role reader --tenant $TA --out "$TMP/reader.cert"
    check "key create for a reader" "$(detail)" '[ "$rc" -eq 0 ]'

    # acting with the integrator key
    run --key "$TMP/int.cert" --tenant $TA actor create --kind citizen --name "Int Borger $NONCE"
    check "the integrator acts on its tenant with --key" "$(detail)" '[ "$rc" -eq 0 ] && [ -s "$TMP/out" ]'
    export SAMSPIL_KEY="$TMP/int.cert"
    run --tenant $TB actor list
    unset SAMSPIL_KEY
    check "the integrator (SAMSPIL_KEY) gets permission_denied on another tenant" "$(detail)" \
        '[ "$rc" -eq 1 ] && grep -q permission_denied "$TMP/err"'
    run --key "$TMP/int.cert" --tenant $TA actor get "$ID" -o json
    check "the integrator does not see contact points or the vulnerable flag" "$(detail)" \
        '[ "$rc" -eq 0 ] && ! grep -qF "$EMAIL" "$TMP/out" && ! grep -qF "$PHONE" "$TMP/out" &&
         grep -q "\"vulnerable\": false" "$TMP/out"'
    run --key "$TMP/reader.cert" --tenant $TA actor get "$ID" -o json
    check "a reader cannot read an actor's contact points" "$(detail)" \
        '! grep -qF "$EMAIL" "$TMP/out" && { [ "$rc" -eq 1 ] && grep -q permission_denied "$TMP/err" || [ "$rc" -eq 0 ]; }'
    run --key "$TMP/int.cert" key list
    check "a non-operator cannot list keys" "$(detail)" \
        '[ "$rc" -eq 1 ] && grep -q permission_denied "$TMP/err"'
    run --key "$TMP/int.cert" --tenant $TA person export "$ID"
    check "an integrator cannot export a person" "$(detail)" \
        '[ "$rc" -eq 1 ] && grep -q permission_denied "$TMP/err" && [ ! -s "$TMP/out" ]'

    # an integrator follows its own tenant's events (per-tenant subscriptions)
    timeout 60 "$CTL" --key "$TMP/int.cert" --tenant $TA events tail --count 2 >"$TMP/tail" 2>"$TMP/tail.err" </dev/null &
    TAIL=$!
    i=0
    while [ "$i" -lt 30 ] && kill -0 "$TAIL" 2>/dev/null; do
        run --tenant $TB actor create --kind citizen --name "Anden Borger $NONCE $i"
        run --key "$TMP/int.cert" --tenant $TA actor create --kind citizen --name "Tail Borger $NONCE $i"
        i=$((i + 1))
        sleep 1
    done
    wait "$TAIL"
    trc=$?
    check "an integrator's events tail --tenant prints its tenant's new events" \
        "exit $trc, $(head -c 300 "$TMP/tail" | tr '\n' '|') $(head -c 300 "$TMP/tail.err" | tr '\n' '|')" \
        '[ "$trc" -eq 0 ] && [ "$(grep -c "\"type\": *\"actor.registered\"" "$TMP/tail")" -eq 2 ] &&
         [ "$(grep -c "\"tenant\": *\"$TA\"" "$TMP/tail")" -eq 2 ]'
    check "and nothing of another tenant" "$(head -c 300 "$TMP/tail")" '! grep -q "\"tenant\": *\"$TB\"" "$TMP/tail"'

    # revoke: the key loses access within seconds
    run key revoke "$KI"
    check "key revoke prints the key with its revocation time" "$(detail)" \
        '[ "$rc" -eq 0 ] && grep -q "^revoked: 20" "$TMP/out"'
    ok=0
    i=0
    while [ "$i" -lt 10 ]; do
        run --key "$TMP/int.cert" --timeout-ms 500 --tenant $TA actor list
        if [ "$rc" -ne 0 ]; then
            ok=1
            break
        fi
        i=$((i + 1))
        sleep 1
    done
    check "a revoked key gets no answer (exit 3) within seconds" "$(detail)" \
        '[ "$ok" -eq 1 ] && [ "$rc" -eq 3 ] && [ ! -s "$TMP/out" ]'
    run key list
    check "key list leaves revoked keys out" "$(detail)" '[ "$rc" -eq 0 ] && ! grep -q "^$KI " "$TMP/out"'
    run key list --include-revoked
    check "key list --include-revoked shows it revoked" "$(detail)" \
        '[ "$rc" -eq 0 ] && grep "^$KI " "$TMP/out" | grep -q " 20[0-9-]*T[0-9:]*Z  20"'
    run key revoke "ctl-rd-$NONCE"
fi

# ---------------------------------------------------------------- person export
run --tenant $TA person export "$ID"
cp "$TMP/out" "$TMP/export.json"
check "person export: one JSON document, even without -o json" "$(detail)" \
    '[ "$rc" -eq 0 ] && json_ok "$TMP/export.json"'
check "the document names the actor and has registration's part" "$(head -c 300 "$TMP/export.json")" \
    'grep -q "^  \"actor_id\": \"$ID\"," "$TMP/export.json" && grep -q "^  \"services\": {" "$TMP/export.json" &&
     grep -q "^    \"registration\": {" "$TMP/export.json"'
check "registration's part holds the name, contact points, vulnerable, membership and consent" \
    "$(head -c 600 "$TMP/export.json")" \
    'grep -qF "$NAME" "$TMP/export.json" && grep -qF "$EMAIL" "$TMP/export.json" &&
     grep -qF "$PHONE" "$TMP/export.json" && grep -q "\"vulnerable\": true" "$TMP/export.json" &&
     grep -qF "\"partnership_id\": \"$P\"" "$TMP/export.json" && grep -q "\"purpose\": \"contact\"" "$TMP/export.json"'
check "its events are decoded: actor.registered of this actor" "$(grep -c '"stream":' "$TMP/export.json") events" \
    'grep "\"type\":\"actor.registered\"" "$TMP/export.json" | grep -q "\"entity_id\":\"$ID\""'
run --tenant $TA person export --external-ref "sag:sec-$NONCE"
check "person export --external-ref finds the same person" "$(detail)" \
    '[ "$rc" -eq 0 ] && grep -q "^  \"actor_id\": \"$ID\"," "$TMP/out"'
run --tenant $TA person export 01a00000-0000-7000-8000-000000000000
check "person export of an unknown id: exit 1 not_found, nothing on stdout" "$(detail)" \
    '[ "$rc" -eq 1 ] && grep -q not_found "$TMP/err" && [ ! -s "$TMP/out" ]'

# ---------------------------------------------------------------- key rotate-data
run --tenant $TA actor create --kind citizen --name "Rot Borger $NONCE" --email "rot.$NONCE@example.dk"
RID=$(cat "$TMP/out")
run key rotate-data
check "key rotate-data prints the new key and what it re-sealed" "$(detail)" \
    '[ "$rc" -eq 0 ] && grep -q "^key_id: " "$TMP/out"'
run key rotate-data --reseal-only -o json
check "key rotate-data --reseal-only: nothing remains under an older key" "$(detail)" \
    '[ "$rc" -eq 0 ] && json_ok "$TMP/out" && grep -q "\"rows_remaining\": \"0\"" "$TMP/out"'
run --tenant $TA actor get "$RID" -o json
check "contact points are readable after the rotation" "$(detail)" \
    '[ "$rc" -eq 0 ] && grep -qF "rot.$NONCE@example.dk" "$TMP/out"'

# ---------------------------------------------------------------- person erase
run --tenant $TA person erase "$ID"
check "person erase without --yes off a terminal: exit 2, nothing erased" "$(detail)" \
    '[ "$rc" -eq 2 ] && grep -q -- "--yes" "$TMP/err"'
if command -v script >/dev/null 2>&1; then
    # on a terminal (script(1) gives it one) it asks; anything but "yes" does nothing
    printf 'no\n' | timeout 60 script -qec "'$CTL' --tenant $TA person erase '$ID'" /dev/null \
        >"$TMP/out" 2>&1
    rc=$?
    check "person erase on a terminal asks, and \"no\" does nothing: exit 2" "$(detail)" \
        '[ "$rc" -eq 2 ] && grep -q "cannot be undone" "$TMP/out" && grep -q "not confirmed" "$TMP/out"'
else
    skip "person erase on a terminal asks" "script(1) not installed"
fi
run --tenant $TA actor get "$ID"
check "... the actor still has its name" "$(detail)" '[ "$rc" -eq 0 ] && grep -qF "$NAME" "$TMP/out"'
run --tenant $TA person erase "$ID" --yes
check "person erase --yes: erased" "$(detail)" \
    '[ "$rc" -eq 0 ] && grep -q "^erased: true" "$TMP/out" && grep -q "^erased_at: 20" "$TMP/out"'
run --tenant $TA person export "$ID"
check "after erasure the export holds none of the person's values" "$(detail)" \
    '[ "$rc" -eq 0 ] && ! grep -qF "$NAME" "$TMP/out" && ! grep -qF "$EMAIL" "$TMP/out" &&
     ! grep -qF "$PHONE" "$TMP/out" && ! grep -qF "sag:sec-$NONCE" "$TMP/out" &&
     grep -q "\"erased_at\": \"20" "$TMP/out"'
run --tenant $TA person erase "$ID" --yes -o json
check "person erase again is harmless: erased false" "$(detail)" \
    '[ "$rc" -eq 0 ] && grep -q "\"erased\": false" "$TMP/out"'
run --tenant $TA person erase
check "person erase without an id: exit 2" "$(detail)" '[ "$rc" -eq 2 ]'

exit $failed
