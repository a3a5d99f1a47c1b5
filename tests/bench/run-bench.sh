#!/usr/bin/env bash
# run-bench.sh - what `make bench` runs: a fresh suite under tests/var/b and
# each benchmark next to the baseline it is measured against, in the same
# run, on the same machine (DESIGN.md section 7):
#
#   register     actor creates/s end to end (client -> broker -> registration
#                worker -> PostgreSQL commit -> reply), 32 in flight,
#                vs pgbench's single-row INSERT at 32 clients on the same
#                embedded PostgreSQL
#   broker-echo  round trips/s through the broker to samspil.echo (credit 1),
#                one in flight, vs a direct ZeroMQ REQ/REP round trip over ipc
#   events       outbox events/s from commit to applied in a subscriber (the
#                event_sink helper, one transaction per event) through the
#                relay and the broker's event bus, vs the raw rate of
#                inserting the same rows (one transaction each, one
#                connection) into a copy of the outbox table no relay reads;
#                p50/p99 from commit to applied
#
# Each side runs BENCH_RUNS times (default 3), alternating, and the medians
# are reported.  The output ends with one "bench ..." line per benchmark.
#
# Environment: BUILD (default build), BENCH_SECONDS (default 10),
# BENCH_RUNS (default 3), REGISTRATION (workers, default 2),
# SAMSPIL_DATABASE_URL (use that server instead of the embedded one).
#
# It waits for tests/var/.lock, shared with `make test`: one run at a time
# per clone (they would compete for the CPU and skew the figures).
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1

# The lock is on fd 8, closed for every program started here (the suite,
# the echo worker, the benchmarks), so only this script holds it.
mkdir -p "$ROOT/tests/var"
LOCK=$ROOT/tests/var/.lock
if command -v flock >/dev/null 2>&1; then
    exec 8>>"$LOCK"
    if ! flock -n 8; then
        echo "run-bench: another make test or make bench is running in this clone; waiting for it ($LOCK)"
        flock 8 || {
            echo "run-bench: could not lock $LOCK" >&2
            exit 1
        }
    fi
else
    echo "run-bench: flock not found (util-linux); not guarding against a concurrent run"
fi
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SECS=${BENCH_SECONDS:-10}
RUNS=${BENCH_RUNS:-3}
WORKERS=${REGISTRATION:-2}
INFLIGHT=32
TENANT=147
PAYLOAD=32

PGBIN=$(pg_config --bindir 2>/dev/null || true)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/pgbench" ]; then
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
fi
if [ ! -x "$PGBIN/pgbench" ]; then
    echo "run-bench: pgbench not found (install postgresql)" >&2
    exit 1
fi

export SAMSPIL_HOME="$ROOT/tests/var/b"
LOG=$SAMSPIL_HOME/log
SUITE_STARTED=0
ECHO_PID=
SINK_PID=

cleanup() {
    if [ -n "$SINK_PID" ]; then
        kill "$SINK_PID" 2>/dev/null
        wait "$SINK_PID" 2>/dev/null
        SINK_PID=
    fi
    if [ -n "$ECHO_PID" ]; then
        kill "$ECHO_PID" 2>/dev/null
        wait "$ECHO_PID" 2>/dev/null
        ECHO_PID=
    fi
    if [ "$SUITE_STARTED" = 1 ]; then
        SUITE_STARTED=0
        if [ -n "${OWNER_DB:-}" ]; then
            "$PGBIN/psql" -q -X -d "$OWNER_DB" -c 'DROP SCHEMA IF EXISTS bench_scratch CASCADE' \
                -c 'DROP SCHEMA IF EXISTS bench_eventsink CASCADE' \
                >>"$LOG/run-bench-suite.log" 2>&1 8>&-
        fi
        BUILD=$BUILD deploy/run-suite.sh stop >>"$LOG/run-bench-suite.log" 2>&1 8>&-
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "run-bench: $*" >&2
    exit 1
}

# median of the arguments
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# value of key=... in a "k=v k=v" line
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

if [ -d "$SAMSPIL_HOME/run" ]; then
    BUILD=$BUILD deploy/run-suite.sh stop >/dev/null 2>&1 8>&- || true
fi
rm -rf "$SAMSPIL_HOME"
mkdir -p "$LOG"

echo "== machine: $(nproc) cores, $(uname -srm), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
echo "== PostgreSQL: $("$PGBIN/postgres" --version 2>/dev/null); ZeroMQ: $(pkg-config --modversion libzmq 2>/dev/null)"
echo "== starting the suite (SAMSPIL_HOME=$SAMSPIL_HOME, REGISTRATION=$WORKERS)"
SUITE_STARTED=1
if ! REGISTRATION=$WORKERS BUILD=$BUILD deploy/run-suite.sh start >"$LOG/run-bench-suite.log" 2>&1 8>&-; then
    cat "$LOG/run-bench-suite.log" >&2
    fail "deploy/run-suite.sh start failed"
fi
export SAMSPIL_BROKER="ipc://$SAMSPIL_HOME/run/broker.ipc"
# SAMSPIL_DATABASE_URL, else the embedded cluster's owner conninfo with every
# value quoted (a space in the clone's path) and its port (PGPORT may be set)
OWNER_DB=$(deploy/pg.sh url 8>&-) || fail "deploy/pg.sh url failed"

# ---------------------------------------------------------------- baseline table
# shaped like an actors row: uuid default, tenant, name, kind, language, tags, timestamp
"$PGBIN/psql" -q -X -v ON_ERROR_STOP=1 -d "$OWNER_DB" >>"$LOG/run-bench-suite.log" 2>&1 8>&- <<'SQL' ||
DROP SCHEMA IF EXISTS bench_scratch CASCADE;
CREATE SCHEMA bench_scratch;
CREATE TABLE bench_scratch.actors (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id text NOT NULL,
    kind text NOT NULL,
    name text NOT NULL,
    preferred_language text NOT NULL DEFAULT '',
    interests text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
SQL
    fail "could not create the pgbench scratch table (see $LOG/run-bench-suite.log)"
SCRIPT=$SAMSPIL_HOME/pgbench-insert.sql
cat >"$SCRIPT" <<SQL
\\set n random(1, 2000000000)
INSERT INTO bench_scratch.actors (tenant_id, kind, name, preferred_language, interests) VALUES ('$TENANT', 'citizen', 'Bench ' || :n, 'da', ARRAY['skole']);
SQL

REG_CMD=("$BUILD/tests/bench/bench_register" --broker "$SAMSPIL_BROKER" --tenant "$TENANT"
    --inflight "$INFLIGHT" --seconds "$SECS" --warmup 2)
PGB_CMD=("$PGBIN/pgbench" -n -c "$INFLIGHT" -j 2 -T "$SECS" -f "$SCRIPT" "$OWNER_DB")
ECHO_CMD=("$BUILD/tests/bench/bench_echo" --broker "$SAMSPIL_BROKER" --seconds "$SECS"
    --warmup 1 --size "$PAYLOAD")
RR_CMD=("$BUILD/tests/bench/bench_reqrep" --endpoint "ipc://$SAMSPIL_HOME/run/reqrep.ipc"
    --seconds "$SECS" --warmup 1 --size "$PAYLOAD")
WORKER_CMD=("$BUILD/bin/samspil-echo" --credit 1)
SINK_CMD=("$BUILD/tests/helpers/event_sink" --schema bench_eventsink --from-head)
EV_CMD=("$BUILD/tests/bench/bench_events" --database "$OWNER_DB" --sink-schema bench_eventsink
    --tenant "$TENANT" --seconds "$SECS")

echo "== reproduce (SAMSPIL_HOME=$SAMSPIL_HOME after: REGISTRATION=$WORKERS BUILD=$BUILD deploy/run-suite.sh start):"
echo "   ${REG_CMD[*]}"
echo "   ${PGB_CMD[*]}   # script: $(tail -1 "$SCRIPT")"
echo "   ${WORKER_CMD[*]} &"
echo "   ${ECHO_CMD[*]}"
echo "   ${RR_CMD[*]}"
echo "   ${SINK_CMD[*]} &"
echo "   $(printf '%q ' "${EV_CMD[@]}")"

# ---------------------------------------------------------------- register vs pgbench
reg_rates=() reg_p50=() reg_p99=() pg_tps=()
for i in $(seq 1 "$RUNS"); do
    out=$("${REG_CMD[@]}" 2>>"$LOG/bench-register.log" 8>&-) || fail "bench_register failed: $out (see $LOG/bench-register.log)"
    echo "   register run $i: $out"
    reg_rates+=("$(field creates_per_s "$out")")
    reg_p50+=("$(field p50_ms "$out")")
    reg_p99+=("$(field p99_ms "$out")")
    out=$("${PGB_CMD[@]}" 2>&1 8>&-) || { echo "$out" >&2; fail "pgbench failed"; }
    tps=$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p')
    [ -n "$tps" ] || { echo "$out" >&2; fail "could not read pgbench's tps"; }
    echo "   pgbench  run $i: tps=$tps"
    pg_tps+=("$tps")
done

# ---------------------------------------------------------------- broker echo vs REQ/REP
"${WORKER_CMD[@]}" >"$LOG/echo.log" 2>&1 8>&- &
ECHO_PID=$!
for _ in $(seq 1 50); do
    "$BUILD/tests/bench/bench_echo" --broker "$SAMSPIL_BROKER" --seconds 1 --warmup 0 >/dev/null 2>&1 8>&- && break
    sleep 0.2
done
echo_rates=() echo_p50=() echo_p99=() rr_rates=()
for i in $(seq 1 "$RUNS"); do
    out=$("${ECHO_CMD[@]}" 2>>"$LOG/bench-echo.log" 8>&-) || fail "bench_echo failed: $out"
    echo "   echo   run $i: $out"
    echo_rates+=("$(field rt_per_s "$out")")
    echo_p50+=("$(field p50_us "$out")")
    echo_p99+=("$(field p99_us "$out")")
    out=$("${RR_CMD[@]}" 2>>"$LOG/bench-echo.log" 8>&-) || fail "bench_reqrep failed: $out"
    echo "   reqrep run $i: $out"
    rr_rates+=("$(field rt_per_s "$out")")
done

# ---------------------------------------------------------------- events vs outbox inserts
# the sink starts after the other benchmarks (it would compete with them for
# the CPU), from the stream's head: bench_events waits until it is live
"${SINK_CMD[@]}" >"$LOG/event_sink.log" 2>&1 8>&- &
SINK_PID=$!
ev_rates=() ev_p50=() ev_p99=() ins_rates=()
for i in $(seq 1 "$RUNS"); do
    out=$("${EV_CMD[@]}" 2>>"$LOG/bench-events.log" 8>&-) || fail "bench_events failed: $out (see $LOG/bench-events.log)"
    echo "   events run $i: $out"
    ev_rates+=("$(field events_per_s "$out")")
    ev_p50+=("$(field p50_ms "$out")")
    ev_p99+=("$(field p99_ms "$out")")
    ins_rates+=("$(field inserts_per_s "$out")")
done

# ---------------------------------------------------------------- results
reg=$(median "${reg_rates[@]}")
pg=$(median "${pg_tps[@]}")
reg_ratio=$(awk -v a="$reg" -v b="$pg" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
ech=$(median "${echo_rates[@]}")
rr=$(median "${rr_rates[@]}")
echo_ratio=$(awk -v a="$ech" -v b="$rr" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
evr=$(median "${ev_rates[@]}")
ins=$(median "${ins_rates[@]}")
ev_ratio=$(awk -v a="$evr" -v b="$ins" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
target=$(awk -v r="$reg_ratio" 'BEGIN {if (r >= 0.7) print "met"; else printf "missed by %.0f%%", (0.7 - r) / 0.7 * 100}')
echo "== medians of $RUNS runs of ${SECS} s, $WORKERS registration workers; register target ratio >= 0.7: $target"
cleanup
trap - EXIT
printf 'bench register: %.0f creates/s vs pgbench-insert-32 %.0f tps ratio %s p50 %.2f ms p99 %.2f ms\n' \
    "$reg" "$pg" "$reg_ratio" "$(median "${reg_p50[@]}")" "$(median "${reg_p99[@]}")"
printf 'bench broker-echo: %.0f rt/s vs zmq-reqrep %.0f rt/s ratio %s p50 %.0f us p99 %.0f us\n' \
    "$ech" "$rr" "$echo_ratio" "$(median "${echo_p50[@]}")" "$(median "${echo_p99[@]}")"
printf 'bench events: %.0f events/s vs outbox-insert %.0f rows/s ratio %s p50 %.2f ms p99 %.2f ms\n' \
    "$evr" "$ins" "$ev_ratio" "$(median "${ev_p50[@]}")" "$(median "${ev_p99[@]}")"
