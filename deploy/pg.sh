#!/usr/bin/env bash
# pg.sh - the suite's PostgreSQL: an embedded cluster under $SAMSPIL_HOME/pg
# (Unix socket only), or the external server named by SAMSPIL_DATABASE_URL.
#
#   deploy/pg.sh start    initdb on first use, start, create roles and database
#   deploy/pg.sh stop     fast shutdown (the data stays)
#   deploy/pg.sh status   exit 0 if the database answers, 3 if not
#   deploy/pg.sh url      print the owner's conninfo (for libpq / psql -d)
#   deploy/pg.sh psql ... psql on database samspil as samspil_owner
#
# SAMSPIL_HOME defaults to ./var.  Layout: pg/data (the cluster), pg/run
# (socket directory, mode 0700), log/postgresql.log.  With SAMSPIL_DATABASE_URL
# set, start/status only check that the server answers and stop does
# nothing: create the roles there with deploy/sql/roles.sql.
#
# As root the server runs as the `postgres` OS user (PostgreSQL refuses
# root): pg/ is given to that user, and any parent directory of
# SAMSPIL_HOME it cannot enter gets o+x (enter only, not list), which is
# printed.  See docs/operations.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
port=5432

say() { printf 'pg: %s\n' "$*" >&2; }
die() {
    printf 'pg: %s\n' "$*" >&2
    exit 1
}

home=${SAMSPIL_HOME:-./var}
mkdir -p "$home"
home=$(cd "$home" && pwd)
pgdir=$home/pg
data=$pgdir/data
rundir=$pgdir/run
logdir=$home/log
logfile=$logdir/postgresql.log
external=${SAMSPIL_DATABASE_URL:-}

# The embedded cluster is reached only through its own socket directory and
# port: libpq defaults from the caller's environment (common on CI images)
# must not redirect psql or pg_ctl, nor change the server's port.
if [ -z "$external" ]; then
    unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE
fi

# --- server binaries: SAMSPIL_PG_BINDIR, else Debian's highest version, else pg_config
find_bindir() {
    local d best=""
    if [ -n "${SAMSPIL_PG_BINDIR:-}" ]; then
        [ -x "$SAMSPIL_PG_BINDIR/pg_ctl" ] || die "no pg_ctl in SAMSPIL_PG_BINDIR=$SAMSPIL_PG_BINDIR"
        echo "$SAMSPIL_PG_BINDIR"
        return
    fi
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/pg_ctl" ] || continue
        if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$best" "$d" | sort -V | tail -n1)" = "$d" ]; then
            best=$d
        fi
    done
    if [ -z "$best" ] && command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir)
        [ -x "$d/pg_ctl" ] && best=$d
    fi
    if [ -z "$best" ] && command -v pg_ctl >/dev/null 2>&1; then
        best=$(dirname "$(command -v pg_ctl)")
    fi
    [ -n "$best" ] || die "no PostgreSQL server found (install the postgresql package, or set SAMSPIL_PG_BINDIR)"
    echo "$best"
}

# psql: the server's, else the one on PATH
find_psql() {
    if [ -n "${bindir:-}" ] && [ -x "$bindir/psql" ]; then
        echo "$bindir/psql"
    elif command -v psql >/dev/null 2>&1; then
        command -v psql
    else
        die "psql not found (install postgresql-client)"
    fi
}

# --- running server commands as the right OS user
if [ "$(id -u)" = 0 ]; then
    as_root=1
    id -u postgres >/dev/null 2>&1 ||
        die "running as root but there is no 'postgres' OS user to run the server (install the postgresql package)"
else
    as_root=0
fi

# run "$@" as the server's OS user, from a directory that user can enter;
# never pass on fd 9 (our lock): the server would hold it for its lifetime
as_pg() {
    if [ "$as_root" = 1 ]; then
        if command -v runuser >/dev/null 2>&1; then
            (cd / && runuser -u postgres -- "$@" 9>&-)
        else
            (cd / && su postgres -s /bin/sh -c "$(printf '%q ' "$@")" 9>&-)
        fi
    else
        "$@" 9>&-
    fi
}

# Let the postgres user enter every directory from / down to $1 (root case).
ensure_traversable() {
    local target=$1 phys part d=""
    phys=$(cd "$target" && pwd -P)
    local -a parts
    IFS=/ read -r -a parts <<<"$phys"
    for part in / "${parts[@]}"; do
        [ -n "$part" ] || continue
        if [ "$part" = / ]; then d=/; else d=${d%/}/$part; fi
        if ! as_pg test -x "$d"; then
            chmod o+x "$d"
            say "added o+x (enter only) to $d so the postgres user can reach $target"
            as_pg test -x "$d" ||
                die "the postgres user still cannot enter $d (ACLs or mount options?); use a SAMSPIL_HOME it can reach"
        fi
    done
}

# Serialise start/stop for one SAMSPIL_HOME (fd 9, never inherited by the server).
lock_home() {
    mkdir -p "$home/run"
    exec 9>"$home/run/pg.lock"
    if command -v flock >/dev/null 2>&1; then
        flock -w 120 9 || die "another deploy/pg.sh holds $home/run/pg.lock"
    fi
}

conf_quote() { printf "'%s'" "${1//\'/\'\'}"; }

# a conninfo value as libpq reads it: always quoted, \ and ' escaped
ci_quote() {
    local v=${1//\\/\\\\}
    printf "'%s'" "${v//\'/\\\'}"
}

# the same conninfo as sp_db_conninfo's for the owner
owner_conninfo() {
    if [ -n "$external" ]; then
        printf '%s\n' "$external"
    else
        printf 'host=%s port=%s dbname=%s user=%s\n' "$(ci_quote "$rundir")" "$(ci_quote "$port")" \
            "$(ci_quote samspil)" "$(ci_quote samspil_owner)"
    fi
}

is_running() {
    [ -f "$data/PG_VERSION" ] || return 1
    as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

check_socket_path() {
    local sock=$rundir/.s.PGSQL.$port len
    len=$(printf '%s' "$sock" | LC_ALL=C wc -c)
    # sun_path holds 108 bytes with the terminating NUL
    if [ "$len" -gt 107 ]; then
        die "socket path $sock is $len bytes, over the 107-byte limit of Unix sockets; use a shorter SAMSPIL_HOME (e.g. SAMSPIL_HOME=/tmp/samspil-$(id -un))"
    fi
}

check_external() {
    local psql out
    psql=$(find_psql)
    if ! out=$("$psql" -X -q -A -t -d "$external" -c 'SELECT current_user' 2>&1); then
        say "cannot connect to the server in SAMSPIL_DATABASE_URL:"
        printf '%s\n' "$out" >&2
        return 1
    fi
    return 0
}

write_config() {
    local conf=$data/samspil.conf
    cat >"$conf" <<EOF
# Written by deploy/pg.sh on every start; change that script, not this file.
listen_addresses = ''
port = $port
unix_socket_directories = $(conf_quote "$rundir")
unix_socket_permissions = 0700
max_connections = 200
shared_buffers = 128MB
timezone = 'UTC'
log_timezone = 'UTC'
# Logs go to $logfile via pg_ctl.  Statements carry personal data: never log
# them, nor the DETAIL lines of errors (they quote row values).
logging_collector = off
log_destination = 'stderr'
log_line_prefix = '%m [%p] '
log_min_messages = warning
log_min_error_statement = panic
log_error_verbosity = terse
log_statement = 'none'
log_min_duration_statement = -1
log_connections = off
log_disconnections = off
EOF
    grep -qx "include 'samspil.conf'" "$data/postgresql.conf" ||
        printf "\n# Samspil settings\ninclude 'samspil.conf'\n" >>"$data/postgresql.conf"
    [ "$as_root" = 1 ] && chown postgres: "$conf" "$data/postgresql.conf"
    chmod 600 "$conf"
}

init_cluster() {
    local locale=C initlog=$logdir/initdb.log
    if locale -a 2>/dev/null | grep -qix 'c.utf-\?8'; then locale=C.UTF-8; fi
    if [ -e "$data" ] && [ -n "$(ls -A "$data" 2>/dev/null)" ]; then
        die "$data exists but holds no cluster (an interrupted initdb?); move it away and start again"
    fi
    say "creating the cluster in $data (log: $initlog)"
    mkdir -p "$data"
    [ "$as_root" = 1 ] && chown postgres: "$data"
    chmod 700 "$data"
    if ! as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 \
        --locale="$locale" >"$initlog" 2>&1; then
        tail -n 20 "$initlog" >&2
        die "initdb failed (see $initlog)"
    fi
}

bootstrap() {
    local psql
    psql=$(find_psql)
    PGOPTIONS='-c client_min_messages=warning' "$psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$rundir" -p "$port" -U postgres -d postgres -f "$here/sql/roles.sql" >/dev/null ||
        die "could not create the samspil roles and database"
}

cmd_start() {
    if [ -n "$external" ]; then
        check_external || exit 1
        say "using the external server in SAMSPIL_DATABASE_URL"
        return 0
    fi
    check_socket_path
    mkdir -p "$pgdir" "$logdir" "$home/run"
    lock_home

    if [ "$as_root" = 1 ]; then
        chmod 755 "$logdir"
        ensure_traversable "$logdir"
        chown postgres: "$pgdir"
    fi
    chmod 700 "$pgdir"
    mkdir -p "$rundir"
    [ "$as_root" = 1 ] && chown postgres: "$rundir"
    chmod 700 "$rundir"
    touch "$logfile"
    [ "$as_root" = 1 ] && chown postgres: "$logfile"
    chmod 600 "$logfile"

    if [ ! -f "$data/PG_VERSION" ]; then
        init_cluster
    fi
    local have want
    have=$(cat "$data/PG_VERSION")
    want=$("$bindir/pg_ctl" --version | sed -n 's/.* \([0-9][0-9]*\)[.0-9]*.*/\1/p' | head -n1)
    if [ -n "$want" ] && [ "$have" != "$want" ]; then
        die "the cluster in $data is PostgreSQL $have but the server found is $want ($bindir); set SAMSPIL_PG_BINDIR or upgrade the cluster"
    fi
    if is_running; then
        say "already running (socket in $rundir)"
    else
        write_config
        if ! as_pg "$bindir/pg_ctl" -D "$data" -l "$logfile" -w -t 60 -s start; then
            tail -n 20 "$logfile" >&2
            die "the server did not start (see $logfile)"
        fi
        say "started PostgreSQL $have (socket in $rundir, log $logfile)"
    fi
    bootstrap
}

cmd_stop() {
    if [ -n "$external" ]; then
        return 0
    fi
    [ -f "$data/PG_VERSION" ] || return 0
    lock_home
    if is_running; then
        as_pg "$bindir/pg_ctl" -D "$data" -w -t 60 -s -m fast stop ||
            die "the server did not stop (see $logfile)"
        say "stopped"
    fi
}

cmd_status() {
    if [ -n "$external" ]; then
        if check_external 2>/dev/null; then
            echo "external server: answering"
            return 0
        fi
        echo "external server: not answering"
        return 3
    fi
    if is_running; then
        echo "running (socket in $rundir, data in $data)"
        return 0
    fi
    echo "stopped (data in $data)"
    return 3
}

case ${1:-} in
start | stop | status)
    [ -n "$external" ] || bindir=$(find_bindir)
    "cmd_$1"
    ;;
url)
    owner_conninfo
    ;;
psql)
    shift
    [ -n "$external" ] || bindir=$(find_bindir)
    exec "$(find_psql)" -X -d "$(owner_conninfo)" "$@"
    ;;
*)
    echo "usage: $0 start|stop|status|url|psql [psql arguments]" >&2
    exit 2
    ;;
esac
