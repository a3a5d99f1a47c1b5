#!/usr/bin/env bash
# run-tests.sh - what `make test` runs: every cmocka unit test, then a fresh
# suite (embedded PostgreSQL, broker, 2 registration workers) and every
# integration test against it, then sanitizer reports from every log.
#
# Environment:
#   BUILD   build tree holding bin/ and tests/ (default: build; build/san under SAN=1)
#   SAN     1 when BUILD is the ASan+UBSan tree: sanitizer options are set and
#           any sanitizer report in a log fails the run
#   SAMSPIL_DATABASE_URL  use that PostgreSQL instead of the embedded one
#   TESTS   optional space-separated names of integration tests to run (default: all)
#
# The suite runs in tests/var/h (tests/var/s under SAN=1).  One run at a time
# per clone: a run waits for tests/var/.lock, which `make bench` takes too.
#
# Ends with exactly one line "N passed, N failed"; exits 0 iff nothing failed
# and something passed.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
SAN=${SAN:-}

# One test or bench run at a time in this clone: each wipes and restarts its
# suite, and they compete for the CPU.  The lock is on fd 8, which is closed
# for everything that may leave a process behind (the suite, test programs),
# so only this script holds it.
mkdir -p "$ROOT/tests/var"
LOCK=$ROOT/tests/var/.lock
if command -v flock >/dev/null 2>&1; then
    exec 8>>"$LOCK"
    if ! flock -n 8; then
        echo "run-tests: another make test or make bench is running in this clone; waiting for it ($LOCK)"
        flock 8 || {
            echo "run-tests: could not lock $LOCK"
            exit 1
        }
    fi
else
    echo "run-tests: flock not found (util-linux); not guarding against a concurrent run"
fi
if [ -z "${BUILD:-}" ]; then
    if [ "$SAN" = 1 ]; then BUILD=build/san; else BUILD=build; fi
fi
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

passed=0
failed=0
unit_passed=0 unit_failed=0
int_passed=0 int_failed=0
san_reports=0
failures=()

note_failure() { failures+=("$1"); }

if [ "$SAN" = 1 ]; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
unset CMOCKA_MESSAGE_OUTPUT CMOCKA_XML_FILE

# ---------------------------------------------------------------- unit tests
echo "== unit tests ($BUILD/tests/unit)"
shopt -s nullglob
unit_bins=("$BUILD"/tests/unit/test_*)
shopt -u nullglob
for bin in "${unit_bins[@]}"; do
    [ -x "$bin" ] && [ -f "$bin" ] || continue
    case $bin in *.d | *.o) continue ;; esac
    name=$(basename "$bin")
    out=$(timeout 120 "$bin" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    # One "[ RUN      ]" line per test case started, "[       OK ]" per case
    # passed; a case that started without OK failed (or crashed the binary).
    runs=$(printf '%s\n' "$out" | grep -c '^\[ RUN      \]')
    oks=$(printf '%s\n' "$out" | grep -c '^\[       OK \]')
    skips=$(printf '%s\n' "$out" | grep -c '^\[  SKIPPED \]')
    bad=$((runs - oks - skips))
    [ "$bad" -lt 0 ] && bad=0
    if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
        bad=1 # crashed before or after its cases, or in a setup
        echo "unit: $name exited with status $rc"
    fi
    unit_passed=$((unit_passed + oks))
    unit_failed=$((unit_failed + bad))
    [ "$bad" -gt 0 ] && note_failure "unit $name ($bad)"
done
echo "== unit tests: $unit_passed passed, $unit_failed failed (${#unit_bins[@]} programs)"

# ---------------------------------------------------------------- the suite
# short homes: a Unix socket path is at most 107 bytes (see docs/operations.md)
if [ "$SAN" = 1 ]; then
    export SAMSPIL_HOME="$ROOT/tests/var/s"
else
    export SAMSPIL_HOME="$ROOT/tests/var/h"
fi
SUITE_STARTED=0
stop_suite() {
    if [ "$SUITE_STARTED" = 1 ]; then
        SUITE_STARTED=0
        BUILD=$BUILD deploy/run-suite.sh stop >>"$SAMSPIL_HOME/log/run-tests-suite.log" 2>&1 8>&- ||
            echo "run-tests: stopping the suite failed (see $SAMSPIL_HOME/log/run-tests-suite.log)"
    fi
}
trap stop_suite EXIT
trap 'exit 130' INT TERM

# A suite left running by an interrupted earlier run must not survive the wipe.
if [ -d "$SAMSPIL_HOME/run" ]; then
    BUILD=$BUILD deploy/run-suite.sh stop >/dev/null 2>&1 8>&- || true
fi
rm -rf "$SAMSPIL_HOME"
mkdir -p "$SAMSPIL_HOME/log"

echo "== starting the suite (SAMSPIL_HOME=$SAMSPIL_HOME, REGISTRATION=2)"
SUITE_STARTED=1
if ! REGISTRATION=2 BUILD=$BUILD deploy/run-suite.sh start >"$SAMSPIL_HOME/log/run-tests-suite.log" 2>&1 8>&-; then
    cat "$SAMSPIL_HOME/log/run-tests-suite.log"
    echo "not ok - suite start # deploy/run-suite.sh start failed"
    int_failed=$((int_failed + 1))
    note_failure "suite start"
    suite_ok=0
else
    suite_ok=1
fi

export SAMSPIL_BROKER="ipc://$SAMSPIL_HOME/run/broker.ipc"
export SAMSPIL_BIN="$BUILD/bin"
# SAMSPIL_DATABASE_URL, else the embedded cluster's owner conninfo with every
# value quoted (a space in the clone's path) and its port (PGPORT may be set)
SAMSPIL_OWNER_DB=$(deploy/pg.sh url 8>&-) || SAMSPIL_OWNER_DB=
export SAMSPIL_OWNER_DB

# ---------------------------------------------------------------- integration tests
if [ "$suite_ok" = 1 ]; then
    echo "== integration tests"
    shopt -s nullglob
    progs=()
    for p in "$BUILD"/tests/integration/* "$ROOT"/tests/integration/*.sh; do
        [ -f "$p" ] && [ -x "$p" ] || continue
        case $p in *.d | *.o | *.h) continue ;; esac
        progs+=("$p")
    done
    shopt -u nullglob
    for prog in "${progs[@]}"; do
        name=$(basename "$prog")
        name=${name%.sh}
        if [ -n "${TESTS:-}" ] && ! printf ' %s ' "$TESTS" | grep -q " $name "; then
            continue
        fi
        log="$SAMSPIL_HOME/log/test-$name.log"
        echo "-- $name"
        timeout -k 10 300 "$prog" </dev/null 2>&1 8>&- | tee "$log" 8>&-
        rc=${PIPESTATUS[0]}
        oks=$(grep -c '^ok - ' "$log")
        nots=$(grep -c '^not ok - ' "$log")
        if [ "$rc" -ne 0 ] && [ "$nots" -eq 0 ]; then
            if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
                echo "not ok - $name # timed out after 300 s"
            else
                echo "not ok - $name # exited with status $rc"
            fi
            nots=1
        fi
        int_passed=$((int_passed + oks))
        int_failed=$((int_failed + nots))
        [ "$nots" -gt 0 ] && note_failure "integration $name ($nots)"
    done
fi

# ---------------------------------------------------------------- log scan
# No personal data in logs (issue 4, point 8; tests/log-scan.sh): collect
# the names, e-mail addresses, phone numbers and CPR numbers the tests used
# (from the database as owner while the suite still runs, and from the
# test sources), stop the suite so that every process has written its last
# line, then scan every log under $SAMSPIL_HOME.  The scanner's self-test
# first proves that it finds values planted in scratch logs.  Its
# "ok - " / "not ok - " lines count like an integration test's.
scan_passed=0
scan_failed=0
if [ -d "$SAMSPIL_HOME/log" ]; then
    echo "== log scan"
    scan_dir=$SAMSPIL_HOME/log-scan # not under log/: the values are personal data
    mkdir -p "$scan_dir"
    chmod 700 "$scan_dir"
    if [ "$suite_ok" = 1 ]; then
        tests/log-scan.sh values "$scan_dir/values" 8>&-
    else
        SAMSPIL_OWNER_DB= tests/log-scan.sh values "$scan_dir/values" 8>&-
    fi
    stop_suite
    {
        tests/log-scan.sh self-test
        if [ -f "$scan_dir/values" ]; then
            # the lines found go to log-scan/hits (mode 0600), never to the output
            (umask 077 && : >"$scan_dir/hits")
            LOG_SCAN_HITS=$scan_dir/hits tests/log-scan.sh scan "$scan_dir/values" "$SAMSPIL_HOME"
        else
            echo "not ok - log scan: no values collected"
        fi
    } >"$scan_dir/scan.out" 2>&1 8>&-
    cat "$scan_dir/scan.out"
    scan_passed=$(grep -c '^ok - ' "$scan_dir/scan.out")
    scan_failed=$(grep -c '^not ok - ' "$scan_dir/scan.out")
    if [ "$scan_failed" -gt 0 ]; then
        note_failure "log scan ($scan_failed)"
        echo "log scan: the lines found are in $scan_dir/hits (not printed: they hold personal data)"
    fi
    echo "== log scan: $scan_passed passed, $scan_failed failed"
fi

stop_suite
echo "== integration tests: $int_passed passed, $int_failed failed"

# ---------------------------------------------------------------- sanitizer reports
# Count reports in every process's log (the services' logs are written
# after they stop, so this runs after the suite is down).
if [ "$SAN" = 1 ] && [ -d "$SAMSPIL_HOME/log" ]; then
    for log in "$SAMSPIL_HOME"/log/*.log; do
        [ -f "$log" ] || continue
        n=$(grep -c -E 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$log")
        if [ "$n" -gt 0 ]; then
            echo "sanitizer: $n report(s) in $log:"
            grep -n -A 12 -E 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$log" | head -60
            san_reports=$((san_reports + n))
            note_failure "sanitizer $(basename "$log") ($n)"
        fi
    done
    echo "== sanitizer: $san_reports report(s)"
fi

passed=$((unit_passed + int_passed + scan_passed))
failed=$((unit_failed + int_failed + san_reports + scan_failed))
echo "== summary: unit $unit_passed/$((unit_passed + unit_failed)), integration $int_passed/$((int_passed + int_failed)), log scan $scan_passed/$((scan_passed + scan_failed)), sanitizer reports $san_reports"
for f in "${failures[@]+"${failures[@]}"}"; do
    echo "   failed: $f"
done
trap - EXIT
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
