#!/bin/sh
# test_ctl.sh - samspilctl end to end against the suite tests/run-tests.sh
# started (issue 2 point 8): status, creates printing the id alone, -o json
# documents, error replies on stderr with exit 1, usage errors exit 2, an
# unreachable broker exit 3.  Prints TAP-style "ok - " / "not ok - " lines.
#
# Tenant 159.
set -u

: "${SAMSPIL_BIN:?run through tests/run-tests.sh}"
: "${SAMSPIL_BROKER:?run through tests/run-tests.sh}"
CTL="$SAMSPIL_BIN/samspilctl"
T=159
NONCE="$(date +%s)$$"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failed=0

pass() { echo "ok - $1"; }
fail() {
    echo "not ok - $1 # $2"
    failed=1
}

# run ARGS...: runs samspilctl, leaves $rc, $TMP/out, $TMP/err
run() {
    "$CTL" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
    rc=$?
}
out() { cat "$TMP/out"; }
err() { cat "$TMP/err"; }
detail() { printf 'exit %s, stdout "%s", stderr "%s"' "$rc" "$(head -c 300 "$TMP/out" | tr '\n' '|')" "$(head -c 300 "$TMP/err" | tr '\n' '|')"; }

# is_json FILE: one JSON document (python3 or jq when present, else its shape)
is_json() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null
    elif command -v jq >/dev/null 2>&1; then
        jq -e . "$1" >/dev/null 2>&1
    else
        head -c 1 "$1" | grep -q '{' && tail -c 2 "$1" | grep -q '}'
    fi
}

UUID_RE='^[0-9a-f]\{8\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{12\}$'

# ---------------------------------------------------------------- status
run status
if [ "$rc" -eq 0 ] && grep -q 'samspil\.registration' "$TMP/out" &&
    grep 'samspil\.registration' "$TMP/out" | grep -qw 2; then
    pass "status lists samspil.registration with 2 workers"
else
    fail "status lists samspil.registration with 2 workers" "$(detail)"
fi
run -o json status
if [ "$rc" -eq 0 ] && is_json "$TMP/out" && grep -q 'samspil\.registration' "$TMP/out"; then
    pass "status -o json is one JSON document"
else
    fail "status -o json is one JSON document" "$(detail)"
fi

# ---------------------------------------------------------------- tenant
run tenant create --code $T --name "Gladsaxe Kommune"
if [ "$rc" -eq 0 ] && [ "$(out)" = "$T" ]; then
    pass "tenant create prints the code alone"
else
    fail "tenant create prints the code alone" "$(detail)"
fi
run tenant get $T -o json
if [ "$rc" -eq 0 ] && is_json "$TMP/out" && grep -q 'Gladsaxe Kommune' "$TMP/out"; then
    pass "tenant get -o json"
else
    fail "tenant get -o json" "$(detail)"
fi

# ---------------------------------------------------------------- actors
NAME="Ctl Borger $NONCE"
run --tenant $T actor create --kind citizen --name "$NAME" --interest skole --language da \
    --phone 20304050 --external-ref "sag:ctl-$NONCE"
ID=$(out)
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$TMP/out")" -eq 1 ] && echo "$ID" | grep -q "$UUID_RE"; then
    pass "actor create prints the id alone"
else
    fail "actor create prints the id alone" "$(detail)"
fi
run --tenant $T actor get "$ID" -o json
if [ "$rc" -eq 0 ] && is_json "$TMP/out" && grep -q "$NAME" "$TMP/out" && grep -q "$ID" "$TMP/out"; then
    pass "actor get -o json is one JSON document with the name"
else
    fail "actor get -o json is one JSON document with the name" "$(detail)"
fi
run --tenant $T actor get --external-ref "sag:ctl-$NONCE"
if [ "$rc" -eq 0 ] && grep -q "$ID" "$TMP/out" && grep -q "$NAME" "$TMP/out"; then
    pass "actor get --external-ref prints field lines"
else
    fail "actor get --external-ref prints field lines" "$(detail)"
fi
export SAMSPIL_TENANT=$T
run actor list -o json --interest skole
unset SAMSPIL_TENANT
if [ "$rc" -eq 0 ] && is_json "$TMP/out" && grep -q '"items"' "$TMP/out" &&
    grep -q '"next"' "$TMP/out" && grep -q "$ID" "$TMP/out"; then
    pass "actor list -o json has items and next (tenant from SAMSPIL_TENANT)"
else
    fail "actor list -o json has items and next (tenant from SAMSPIL_TENANT)" "$(detail)"
fi
run --tenant $T actor upsert --external-ref "sag:ctl-$NONCE" --kind citizen --name "$NAME Jensen"
if [ "$rc" -eq 0 ] && [ "$(out)" = "$ID" ]; then
    pass "actor upsert by the same external ref prints the same id"
else
    fail "actor upsert by the same external ref prints the same id" "$(detail)"
fi
run --tenant $T --idempotency-key "ctl-$NONCE-k" actor create --kind professional --name "Ctl Pro $NONCE"
ID1=$(out)
run --tenant $T --idempotency-key "ctl-$NONCE-k" actor create --kind professional --name "Ctl Pro $NONCE"
if [ "$rc" -eq 0 ] && [ -n "$ID1" ] && [ "$(out)" = "$ID1" ]; then
    pass "actor create with the same --idempotency-key prints the same id"
else
    fail "actor create with the same --idempotency-key prints the same id" "$(detail)"
fi

# ---------------------------------------------------------------- partnership and member
run --tenant $T partnership create --name "Ctl Partnerskab $NONCE" --purpose "test"
PID=$(out)
if [ "$rc" -eq 0 ] && echo "$PID" | grep -q "$UUID_RE"; then
    pass "partnership create prints the id alone"
else
    fail "partnership create prints the id alone" "$(detail)"
fi
run --tenant $T member add --partnership "$PID" --actor "$ID" --role recipient --role needs_support \
    --knowledge experiential
MID=$(out)
if [ "$rc" -eq 0 ] && echo "$MID" | grep -q "$UUID_RE"; then
    pass "member add with two roles prints the id alone"
else
    fail "member add with two roles prints the id alone" "$(detail)"
fi
run --tenant $T member list --partnership "$PID" -o json
if [ "$rc" -eq 0 ] && is_json "$TMP/out" && grep -q "$MID" "$TMP/out" && grep -q 'needs_support' "$TMP/out"; then
    pass "member list -o json shows the membership and its roles"
else
    fail "member list -o json shows the membership and its roles" "$(detail)"
fi

# ---------------------------------------------------------------- errors
run --tenant $T actor create --kind citizen --name ""
if [ "$rc" -eq 1 ] && [ ! -s "$TMP/out" ] && grep -q 'name' "$TMP/err"; then
    pass "empty name: exit 1, message naming the field on stderr"
else
    fail "empty name: exit 1, message naming the field on stderr" "$(detail)"
fi
run tenant create --code 999 --name "Ingen Kommune"
if [ "$rc" -eq 1 ] && grep -q '999' "$TMP/err" && grep -q 'code' "$TMP/err"; then
    pass "tenant code 999: exit 1, stderr names code and value"
else
    fail "tenant code 999: exit 1, stderr names code and value" "$(detail)"
fi
run --tenant 07x1 actor list
if [ "$rc" -eq 1 ] || [ "$rc" -eq 2 ]; then
    if grep -q '07x1' "$TMP/err"; then
        pass "tenant 07x1: refused, value quoted on stderr"
    else
        fail "tenant 07x1: refused, value quoted on stderr" "$(detail)"
    fi
else
    fail "tenant 07x1: refused, value quoted on stderr" "$(detail)"
fi
run --tenant 860 actor list
if [ "$rc" -eq 1 ] && grep -q '860' "$TMP/err" && grep -q 'tenant' "$TMP/err"; then
    pass "unknown tenant: exit 1 naming the tenant"
else
    fail "unknown tenant: exit 1 naming the tenant" "$(detail)"
fi
run --tenant $T actor get abc
if [ "$rc" -eq 1 ] && grep -q 'abc' "$TMP/err"; then
    pass "malformed id: exit 1 quoting the value"
else
    fail "malformed id: exit 1 quoting the value" "$(detail)"
fi
run --tenant $T actor create --kind citizen --name x --no-such-option
if [ "$rc" -eq 2 ] && [ -s "$TMP/err" ]; then
    pass "unknown option: exit 2"
else
    fail "unknown option: exit 2" "$(detail)"
fi
run frobnicate widget
if [ "$rc" -eq 2 ]; then
    pass "unknown command: exit 2"
else
    fail "unknown command: exit 2" "$(detail)"
fi
run --broker ipc:///nonexistent/x.ipc --timeout-ms 300 status
if [ "$rc" -eq 3 ] && [ -s "$TMP/err" ]; then
    pass "unreachable broker: exit 3"
else
    fail "unreachable broker: exit 3" "$(detail)"
fi
run actor create --help
if [ "$rc" -eq 0 ] && grep -q -- '--kind' "$TMP/out"; then
    pass "actor create --help"
else
    fail "actor create --help" "$(detail)"
fi

exit $failed
