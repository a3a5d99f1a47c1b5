#!/usr/bin/env bash
# run-suite.sh - start and stop one Samspil suite: PostgreSQL (embedded, or
# SAMSPIL_DATABASE_URL), migrations, the broker and N registration workers.
#
#   deploy/run-suite.sh [foreground]  start, print how to use it, wait; Ctrl-C
#                                     or SIGTERM stops everything (exit 0)
#   deploy/run-suite.sh start         start and return once every worker is ready
#   deploy/run-suite.sh stop          stop workers, then the broker, then PostgreSQL
#
# Environment: SAMSPIL_HOME (default ./var), BUILD (build tree with bin/,
# default build), REGISTRATION (number of registration workers, default 2),
# SAMSPIL_DATABASE_URL, and every SAMSPIL_* variable the programs read.
#
# Security: the suite runs with CurveZMQ.  Before the broker starts,
# `samspil-broker --init-keys` creates what is missing under
# $SAMSPIL_HOME/keys (the broker's key pair, the key registry,
# operator.cert for samspilctl, service.cert for the workers); existing keys
# are kept.  SAMSPIL_PLAINTEXT=1 runs without keys instead (development
# only; the broker allows it only on ipc/loopback endpoints).
#
# Each process logs to $SAMSPIL_HOME/log/<name>.log and has its pid in
# $SAMSPIL_HOME/run/<name>.pid (broker, registration-1..N; suite.pid is this
# script in foreground mode).  One suite per SAMSPIL_HOME: a second start
# refuses while one is alive, and cleans up after one that died.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

say() { printf 'suite: %s\n' "$*" >&2; }
die() {
    printf 'suite: %s\n' "$*" >&2
    exit 1
}

# With the embedded cluster, libpq defaults in the environment (PGPORT etc.,
# common on CI images) must reach neither pg.sh nor the programs started
# here; with SAMSPIL_DATABASE_URL they may complete that URL, as libpq does.
if [ -z "${SAMSPIL_DATABASE_URL:-}" ]; then
    unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE
fi

home=${SAMSPIL_HOME:-./var}
mkdir -p "$home"
home=$(cd "$home" && pwd)
export SAMSPIL_HOME=$home
rundir=$home/run
logdir=$home/log

build=${BUILD:-build}
if [ ! -d "$build" ] && [ -d "$root/$build" ]; then build=$root/$build; fi
bin=$(cd "$build" 2>/dev/null && pwd)/bin || die "no build tree at $build (run make)"
build_shown=${BUILD:-build}

nreg=${REGISTRATION:-2}
case $nreg in
'' | *[!0-9]* | 0) die "REGISTRATION must be a positive number of workers, not \"$nreg\"" ;;
esac
[ "$nreg" -le 64 ] || die "REGISTRATION=$nreg is more than 64 workers"

ready_timeout=${SAMSPIL_SUITE_READY_SECONDS:-20}
stop_timeout=10

# --- pid files

pidfile() { printf '%s/%s.pid' "$rundir" "$1"; }

# The pid in <name>.pid if that process is alive and is still the program
# it names (not a recycled pid); else nothing.
live_pid() {
    local f pid cmd
    f=$(pidfile "$1")
    [ -f "$f" ] || return 1
    pid=$(cat "$f" 2>/dev/null) || return 1
    case $pid in '' | *[!0-9]*) return 1 ;; esac
    kill -0 "$pid" 2>/dev/null || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    case $1 in
    suite) [[ $cmd == *run-suite.sh* ]] || return 1 ;;
    broker) [[ $cmd == *samspil-broker* ]] || return 1 ;;
    *) [[ $cmd == *samspil-${1%-*}* ]] || return 1 ;;
    esac
    printf '%s' "$pid"
}

# names with a pid file, workers first, then the broker, then the runner
known_names() {
    local f n
    for f in "$rundir"/*.pid; do
        [ -f "$f" ] || continue
        n=${f##*/}
        n=${n%.pid}
        case $n in broker | suite) ;; *) printf '%s\n' "$n" ;; esac
    done
    [ -f "$(pidfile broker)" ] && printf 'broker\n'
    [ -f "$(pidfile suite)" ] && printf 'suite\n'
    return 0
}

# Refuse to start over a live suite; clean up after a dead one.
check_previous() {
    local n pid live="" stale=""
    for n in $(known_names); do
        if pid=$(live_pid "$n"); then
            [ "$n" = suite ] && [ "$pid" = $$ ] && continue
            live="$live $n($pid)"
        else
            stale="$stale $n"
        fi
    done
    if [ -n "$live" ]; then
        say "a suite is already running for SAMSPIL_HOME=$home:$live"
        die "stop it first: SAMSPIL_HOME=$home $here/run-suite.sh stop"
    fi
    if [ -n "$stale" ]; then
        say "cleaning up after a suite that did not stop cleanly:$stale"
        for n in $stale; do rm -f "$(pidfile "$n")"; done
    fi
    return 0
}

# SIGTERM `names`, wait up to $stop_timeout s, then SIGKILL what is left.
terminate() {
    local n pid waited=0 pids=() left
    for n in "$@"; do
        if pid=$(live_pid "$n"); then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$n:$pid")
        fi
        rm -f "$(pidfile "$n")"
    done
    [ ${#pids[@]} -gt 0 ] || return 0
    while :; do
        left=()
        for n in "${pids[@]}"; do
            kill -0 "${n#*:}" 2>/dev/null && left+=("$n")
        done
        [ ${#left[@]} -gt 0 ] || break
        if [ "$waited" -ge $((stop_timeout * 10)) ]; then
            for n in "${left[@]}"; do
                say "${n%%:*} (pid ${n#*:}) did not stop within ${stop_timeout} s: killing it"
                kill -KILL "${n#*:}" 2>/dev/null || true
            done
            break
        fi
        sleep 0.1 || true
        waited=$((waited + 1))
    done
    # reap our own children so they leave no zombies
    for n in "${pids[@]}"; do wait "${n#*:}" 2>/dev/null || true; done
    return 0
}

# --- stop

stop_suite() {
    local n workers=() pid waited=0
    # a foreground runner elsewhere stops the suite itself when told to
    if pid=$(live_pid suite) && [ "$pid" != $$ ]; then
        kill -TERM "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $(((stop_timeout + 70) * 10)) ]; do
            sleep 0.1 || true
            waited=$((waited + 1))
        done
    fi
    if [ -d "$rundir" ]; then
        for n in $(known_names); do
            case $n in broker | suite) ;; *) workers+=("$n") ;; esac
        done
        [ ${#workers[@]} -eq 0 ] || terminate "${workers[@]}"
        terminate broker
    fi
    "$here/pg.sh" stop || say "stopping PostgreSQL failed"
    [ -d "$rundir" ] && rm -f "$(pidfile suite)"
    return 0
}

# --- start

# Start program `prog` as process `name` in the background, in its own
# session (a terminal's Ctrl-C reaches only this script, which stops the
# processes in order), logging to log/<name>.log.
launch() {
    local name=$1 prog=$2
    shift 2
    [ -x "$bin/$prog" ] || die "$bin/$prog is not built (run make)"
    printf '\n' >>"$logdir/$name.log"
    setsid "$bin/$prog" "$@" </dev/null >>"$logdir/$name.log" 2>&1 &
    printf '%s\n' "$!" >"$(pidfile "$name")"
    started+=("$name")
}

# Registration workers the broker knows, as samspilctl status reports them;
# without samspilctl, the workers that logged "worker ready".
workers_ready() {
    local i n=0
    if [ -x "$bin/samspilctl" ]; then
        "$bin/samspilctl" --home "$home" --timeout-ms 1000 status 2>/dev/null |
            awk '$1 == "samspil.registration" { n = $2 } END { print n + 0 }'
        return 0
    fi
    for i in $(seq 1 "$nreg"); do
        grep -q '"msg":"worker ready"' "$logdir/registration-$i.log" 2>/dev/null && n=$((n + 1))
    done
    echo "$n"
}

# The first started process that is no longer alive, if any.
dead_process() {
    local n
    for n in "${started[@]}"; do
        live_pid "$n" >/dev/null || {
            printf '%s' "$n"
            return 0
        }
    done
    return 1
}

report_dead() {
    local n=$1
    say "$n exited unexpectedly; last lines of $logdir/$n.log:"
    tail -n 8 "$logdir/$n.log" >&2 || true
}

start_suite() {
    mkdir -p "$rundir" "$logdir"
    chmod 700 "$rundir" # the broker's ipc socket: whoever reaches it talks to the suite
    check_previous

    "$here/pg.sh" start || die "PostgreSQL did not start"

    say "applying migrations (log: $logdir/migrate.log)"
    if ! "$bin/samspil-registration" --migrate </dev/null >>"$logdir/migrate.log" 2>&1; then
        tail -n 8 "$logdir/migrate.log" >&2
        die "migrations failed (see $logdir/migrate.log)"
    fi

    case ${SAMSPIL_PLAINTEXT:-} in
    1 | true | yes) say "SAMSPIL_PLAINTEXT is set: no CURVE keys, plain text (development only)" ;;
    *)
        if ! "$bin/samspil-broker" --home "$home" --init-keys </dev/null >>"$logdir/init-keys.log" 2>&1; then
            tail -n 8 "$logdir/init-keys.log" >&2
            die "could not create the suite's keys (see $logdir/init-keys.log)"
        fi
        ;;
    esac

    started=()
    launch broker samspil-broker
    local i
    for i in $(seq 1 "$nreg"); do
        launch "registration-$i" samspil-registration
    done

    local deadline=$((SECONDS + ready_timeout)) ready=0 dead
    while :; do
        if dead=$(dead_process); then
            report_dead "$dead"
            stop_suite
            exit 1
        fi
        ready=$(workers_ready)
        [ "$ready" -ge "$nreg" ] && break
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "only $ready of $nreg registration workers ready after ${ready_timeout} s; see $logdir"
            stop_suite
            exit 1
        fi
        sleep 0.2 || true
    done
    say "ready: broker and $nreg registration workers (SAMSPIL_HOME=$home)"
}

postmaster_pid() {
    [ -z "${SAMSPIL_DATABASE_URL:-}" ] || return 1
    head -n1 "$home/pg/data/postmaster.pid" 2>/dev/null
}

foreground() {
    local stopping=0 dead pgpid ctl
    trap 'stopping=1' INT TERM
    mkdir -p "$rundir"
    check_previous
    printf '%s\n' "$$" >"$(pidfile suite)"
    start_suite
    [ "$stopping" = 1 ] && {
        stop_suite
        exit 0
    }

    ctl="$build_shown/bin/samspilctl"
    [ "$home" = "$root/var" ] || ctl="SAMSPIL_HOME=$home $ctl"
    cat <<EOF

Samspil is running.
  endpoint   ipc://$home/run/broker.ipc
  try        $ctl tenant create --code 751 --name "Aarhus Kommune"
             $ctl status
  keys       $home/keys (samspilctl acts with operator.cert; see docs/security.md)
  logs       $logdir/broker.log
             $logdir/registration-{1..$nreg}.log
             $logdir/postgresql.log
  database   SAMSPIL_HOME=$home deploy/pg.sh psql
Ctrl-C stops the suite (the data stays in $home).
EOF

    pgpid=$(postmaster_pid) || pgpid=""
    while [ "$stopping" = 0 ]; do
        sleep 1 &
        wait $! 2>/dev/null || true
        [ "$stopping" = 0 ] || break
        if dead=$(dead_process); then
            report_dead "$dead"
            stop_suite
            exit 1
        fi
        if [ -n "$pgpid" ] && ! kill -0 "$pgpid" 2>/dev/null; then
            say "PostgreSQL (pid $pgpid) exited unexpectedly; see $logdir/postgresql.log"
            stop_suite
            exit 1
        fi
    done
    say "stopping"
    stop_suite
    say "stopped"
    exit 0
}

case ${1:-foreground} in
start) start_suite ;;
stop) stop_suite ;;
foreground) foreground ;;
*)
    echo "usage: $0 [start|stop|foreground]" >&2
    exit 2
    ;;
esac
