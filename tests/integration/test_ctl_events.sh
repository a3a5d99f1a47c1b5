#!/bin/sh
# test_ctl_events.sh - `samspilctl events tail` against the suite
# tests/run-tests.sh started (issue 3 point 4): a replay from 1 sees every
# event of the stream in order without gaps or duplicates, then keeps
# following live; --count ends it with exit 0, SIGINT and SIGTERM too; a
# tail without --from starts at the head and sees only new events; --type
# filters by prefix; JSON lines carry the envelope and the payload;
# usage errors exit 2, a stream nobody publishes exits 3.  Every create
# goes through samspilctl.  Prints TAP-style "ok - " / "not ok - " lines.
#
# Tenant 163.
set -u

: "${SAMSPIL_BIN:?run through tests/run-tests.sh}"
: "${SAMSPIL_BROKER:?run through tests/run-tests.sh}"
CTL="$SAMSPIL_BIN/samspilctl"
T=163
NONCE="$(date +%s)$$"
TMP=$(mktemp -d)
BG=
cleanup() {
    [ -n "$BG" ] && kill "$BG" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
failed=0

pass() { echo "ok - $1"; }
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
    timeout 60 "$CTL" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
    rc=$?
}
detail() { printf 'exit %s, stdout "%s", stderr "%s"' "$rc" "$(head -c 400 "$TMP/out" | tr '\n' '|')" "$(head -c 300 "$TMP/err" | tr '\n' '|')"; }

# seqs FILE: the seq of every line, one per line
seqs() { sed -n 's/.*"seq":\([0-9]*\).*/\1/p' "$1"; }
# field FILE KEY: the string value of KEY on every line
field() { sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" "$1"; }

# contiguous FILE FIRST: the seqs are FIRST, FIRST+1, ... with nothing missing or repeated
contiguous() {
    seqs "$1" | awk -v first="$2" 'BEGIN { want = first } $1 != want { bad = 1; exit } { want++ } END { exit bad || want == first }'
}

# json_lines FILE: every line is one JSON object (python3 or jq when present)
json_lines() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json, sys
for line in open(sys.argv[1]):
    assert isinstance(json.loads(line), dict)' "$1" 2>/dev/null
    elif command -v jq >/dev/null 2>&1; then
        jq -e -c . "$1" >/dev/null 2>&1
    else
        ! grep -v '^{.*}$' "$1" >/dev/null
    fi
}

# wait_for FILE PATTERN SECONDS: until grep finds PATTERN in FILE
wait_for() {
    i=0
    while [ "$i" -lt $(($3 * 10)) ]; do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# ---------------------------------------------------------------- usage
run events tail --help
check "events tail --help" "$(detail)" '[ "$rc" -eq 0 ] && grep -q -- --from "$TMP/out"'
run events tail --from x
check "events tail --from x: exit 2" "$(detail)" '[ "$rc" -eq 2 ] && grep -q "\"x\"" "$TMP/err"'
run events tail --count 0
check "events tail --count 0: exit 2" "$(detail)" '[ "$rc" -eq 2 ]'
run events tail --stream no-such-stream --timeout-ms 1000
check "a stream nobody publishes: exit 3 naming it" "$(detail)" \
    '[ "$rc" -eq 3 ] && grep -q no-such-stream "$TMP/err" && [ ! -s "$TMP/out" ]'

# ---------------------------------------------------------------- data
run tenant create --code $T --name "Herlev Kommune"
[ "$rc" -eq 0 ] || grep -q already_exists "$TMP/err" || fail "tenant create" "$(detail)"
: >"$TMP/ids"
for i in 1 2 3 4 5; do
    run --tenant $T actor create --kind citizen --name "Events Borger $i $NONCE"
    if [ "$rc" -ne 0 ]; then
        fail "actor create $i" "$(detail)"
        exit 1
    fi
    cat "$TMP/out" >>"$TMP/ids"
done
A1=$(sed -n 1p "$TMP/ids")
A5=$(sed -n 5p "$TMP/ids")
run --tenant $T actor update "$A1" --language en
[ "$rc" -eq 0 ] || fail "actor update" "$(detail)"
run --tenant $T partnership create --name "Events Partnerskab $NONCE"
P=$(cat "$TMP/out")
run --tenant $T member add --partnership "$P" --actor "$A5" --role active --knowledge experiential
M=$(cat "$TMP/out")
[ "$rc" -eq 0 ] || fail "member add" "$(detail)"

# ---------------------------------------------------------------- replay from 1, then live
# Follow from 1 in the background until the membership shows up, then SIGINT.
"$CTL" events tail --from 1 >"$TMP/all" 2>"$TMP/all.err" </dev/null &
BG=$!
if wait_for "$TMP/all" "\"entity_id\":\"$M\"" 30; then
    pass "tail --from 1 reaches the newest event"
else
    fail "tail --from 1 reaches the newest event" "$(tail -c 400 "$TMP/all.err")"
fi
# while it follows live: one more actor appears on the same tail
run --tenant $T actor create --kind professional --name "Events Live $NONCE"
A6=$(cat "$TMP/out")
if [ "$rc" -eq 0 ] && wait_for "$TMP/all" "\"entity_id\":\"$A6\"" 20; then
    pass "tail --from 1 continues live after the replay"
else
    fail "tail --from 1 continues live after the replay" "$(tail -c 400 "$TMP/all.err")"
fi
kill -INT "$BG"
wait "$BG"
rc=$?
BG=
check "SIGINT ends the tail with exit 0" "exit $rc" '[ "$rc" -eq 0 ]'

check "replay from 1: seqs 1, 2, 3, ... without gaps or duplicates" \
    "$(seqs "$TMP/all" | tr '\n' ' ' | tail -c 300)" 'contiguous "$TMP/all" 1'
check "every line is one JSON object" "$(head -c 300 "$TMP/all")" 'json_lines "$TMP/all"'
grep "\"tenant\":\"$T\"" "$TMP/all" | grep '"type":"actor.registered"' >"$TMP/reg"
field "$TMP/reg" entity_id >"$TMP/reg.ids"
printf '%s\n' "$A6" >>"$TMP/ids"
check "the six actors appear as actor.registered, in the order they were created" \
    "$(tr '\n' ' ' <"$TMP/reg.ids")" 'cmp -s "$TMP/ids" "$TMP/reg.ids"'
LINE=$(grep "\"entity_id\":\"$A1\"" "$TMP/reg")
TS='[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]\{6\}Z'
if printf '%s\n' "$LINE" | grep -q "^{\"stream\":\"registration\",\"seq\":[0-9]*,\"tenant\":\"$T\",\"type\":\"actor.registered\",\"entity_id\":\"$A1\",\"occurred_at\":\"$TS\",\"kind\":\"citizen\""; then
    pass "an actor.registered line has the envelope and the payload"
else
    fail "an actor.registered line has the envelope and the payload" "$LINE"
fi
if grep -q "$NONCE" "$TMP/all"; then
    fail "no name or other personal value in the events" "$(grep "$NONCE" "$TMP/all" | head -2)"
else
    pass "no name or other personal value in the events"
fi
MLINE=$(grep "\"entity_id\":\"$M\"" "$TMP/all")
if printf '%s\n' "$MLINE" | grep '"type":"membership.added"' | grep "\"partnership_id\":\"$P\"" |
    grep "\"actor_id\":\"$A5\"" | grep -q '"roles":\["active"\]'; then
    pass "membership.added carries partnership, actor and roles"
else
    fail "membership.added carries partnership, actor and roles" "$MLINE"
fi

# ---------------------------------------------------------------- --from N --count K
S1=$(grep "\"entity_id\":\"$A1\"" "$TMP/reg" | sed -n 's/.*"seq":\([0-9]*\).*/\1/p')
run events tail --from "$S1" --count 5
check "--from S --count 5 prints 5 lines, seqs S..S+4, and exits 0" "$(detail)" \
    '[ "$rc" -eq 0 ] && [ "$(wc -l <"$TMP/out")" -eq 5 ] && contiguous "$TMP/out" "$S1"'
check "--from S starts with the event at S" "$(head -1 "$TMP/out")" \
    'head -1 "$TMP/out" | grep -q "^{\"stream\":\"registration\",\"seq\":$S1,.*\"entity_id\":\"$A1\""'

# ---------------------------------------------------------------- --type
run events tail --from "$S1" --type membership. --count 1
check "--type membership. skips to the membership" "$(detail)" \
    '[ "$rc" -eq 0 ] && [ "$(wc -l <"$TMP/out")" -eq 1 ] && grep -q "\"entity_id\":\"$M\"" "$TMP/out"'
run events tail --from 1 --type actor.updated --count 1
check "--type actor.updated finds the update" "$(detail)" \
    '[ "$rc" -eq 0 ] && grep -q "\"type\":\"actor.updated\"" "$TMP/out"'
run events tail --from "$S1" --type actor. --count 7
check "--type actor.: only actor events, in increasing seq order" "$(detail)" \
    '[ "$rc" -eq 0 ] && [ "$(wc -l <"$TMP/out")" -eq 7 ] &&
     [ "$(grep -c "\"type\":\"actor\." "$TMP/out")" -eq 7 ] &&
     [ "$(seqs "$TMP/out" | sort -n -u | tr "\n" " ")" = "$(seqs "$TMP/out" | tr "\n" " ")" ]'

# ---------------------------------------------------------------- live tail from the head
# Without --from the tail starts at the head: it must not print the old
# events.  It cannot say when it is ready, so keep creating actors (one
# every 300 ms) until it has printed 3 of them; they must be consecutive
# ones of ours, in order.
"$CTL" events tail --type actor.registered --count 3 >"$TMP/live" 2>"$TMP/live.err" </dev/null &
BG=$!
: >"$TMP/live.ids"
i=0
while kill -0 "$BG" 2>/dev/null && [ "$i" -lt 60 ]; do
    run --tenant $T actor create --kind organisation --name "Events Org $i $NONCE" --sector public
    [ "$rc" -eq 0 ] && cat "$TMP/out" >>"$TMP/live.ids"
    i=$((i + 1))
    sleep 0.3
done
wait "$BG"
rc=$?
BG=
field "$TMP/live" entity_id >"$TMP/live.got"
FIRST=$(head -1 "$TMP/live.got")
grep -A2 -x "$FIRST" "$TMP/live.ids" >"$TMP/live.want" 2>/dev/null
check "a live tail (no --from) exits 0 after --count 3" "exit $rc, $(tail -c 300 "$TMP/live.err")" \
    '[ "$rc" -eq 0 ] && [ "$(wc -l <"$TMP/live")" -eq 3 ]'
check "a live tail prints only new events, consecutive and in order" \
    "got $(tr '\n' ' ' <"$TMP/live.got"), created $(tr '\n' ' ' <"$TMP/live.ids")" \
    '[ -n "$FIRST" ] && cmp -s "$TMP/live.got" "$TMP/live.want" && ! grep -q "$A6" "$TMP/live"'
check "a live tail's organisation lines carry the sector" "$(head -1 "$TMP/live")" \
    'grep -q "\"kind\":\"organisation\",\"organisation_id\":\"\",\"sector\":\"public\"" "$TMP/live"'

# ---------------------------------------------------------------- SIGTERM
"$CTL" events tail >"$TMP/term" 2>"$TMP/term.err" </dev/null &
BG=$!
sleep 1
kill -TERM "$BG"
wait "$BG"
rc=$?
BG=
check "SIGTERM ends the tail with exit 0" "exit $rc, $(tail -c 300 "$TMP/term.err")" '[ "$rc" -eq 0 ]'

exit $failed
