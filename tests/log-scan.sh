#!/usr/bin/env bash
# log-scan.sh - no personal data in logs (issue 4, point 8): after the
# integration suite, look for the names, e-mail addresses, phone numbers and
# CPR numbers the tests used in every log line the suite wrote.
#
#   tests/log-scan.sh values OUT       collect the values into OUT (mode 0600)
#   tests/log-scan.sh scan VALUES DIR  scan DIR's logs for them; TAP lines
#   tests/log-scan.sh self-test        plant values in scratch logs and check
#                                      that scan finds each one, and only those
#
# What is collected (values):
#   - from the database, when SAMSPIL_OWNER_DB is set and answers (as the
#     owner, tenant by tenant because of row-level security): the name of
#     every actor not erased, and any contact point still in plain text
#     (contact_points; sealed ones are covered by the next item);
#   - from the test sources (tests/integration/*, tests/helpers/*): every
#     string literal shaped like an e-mail address, a phone number or a CPR
#     number, actor names given to samspilctl (--name on actor commands,
#     shell variables *NAME*), and name templates in C (snprintf into a
#     *name* variable, .name = "..."), that start with a capital letter.
#     Run-time parts ($VAR, $(...), %s, %04d) become wildcards, so
#     "sikker.$NONCE@example.dk" matches whatever nonce the run used;
#   - shapes: any e-mail address, any +<8..15 digits> phone number, any
#     DDMMYY-SSSS with a real day and month, and ten digits after "cpr".
# Names shorter than 4 characters are left out (they would match ordinary
# words); the erased marker "erased" is not a name.  E-mail addresses match
# in any case, everything else as written.
#
# What is scanned: every file under DIR/log/ and every *.log below DIR (the
# private homes tests make for their own brokers and services), except
# DIR/pg/ (the database itself) and DIR/log/test-*.log, which hold what the
# test programs print themselves (samspilctl output they check, for
# instance), not what Samspil logs.
#
# Output of scan: one "not ok - log scan: <kind> in <file>:<line>" per line
# that holds a value (the value itself is never printed), or one "ok - ..."
# line per kind that was not found; exit 1 if anything was found or a log
# could not be read.  At most LOG_SCAN_MAX_HITS (500) hit lines are printed;
# one more "not ok" line counts the rest.  With LOG_SCAN_HITS=FILE the lines
# found are appended to FILE (create it mode 0600 beside the values) for
# triage; they are never printed.
set -u
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MAX_HITS=${LOG_SCAN_MAX_HITS:-500}
WILD='[A-Za-z0-9._:+-]{1,64}'

# Literal text as an ERE (GNU grep -E).
ere_escape() {
    printf '%s' "$1" | sed -e 's/[][\.^$*+?(){}|/]/\\&/g'
}

# ---------------------------------------------------------------- values

# Values from the test sources, as "<kind>\t<E|F>\t<pattern>" lines.
source_values() {
    local files=()
    local f
    for f in "$ROOT"/tests/integration/* "$ROOT"/tests/helpers/*; do
        [ -f "$f" ] && files+=("$f")
    done
    [ ${#files[@]} -gt 0 ] || return 0
    WILD="$WILD" perl -ne '
        BEGIN { $wild = $ENV{WILD}; }
        # a literal (or template) -> ERE with wildcards for run-time parts;
        # returns "" when fewer than 4 fixed characters are left
        sub template {
            my ($s) = @_;
            my @parts = split /(\$\{\w+\}|\$\(\([^)]*\)\)|\$\([^)]*\)|\$\w+|%[-+ #0]*[0-9.*]*(?:hh|h|ll|l|z|j|t)?[sdiuxXcp])/, $s;
            my ($re, $fixed) = ("", 0);
            for my $p (@parts) {
                next if $p eq "";
                if ($p =~ /^(\$|%)/) { $re .= $wild; next; }
                $fixed += length $p;
                (my $q = $p) =~ s/([][\\.^\$*+?(){}|\/])/\\$1/g;
                $re .= $q;
            }
            return $fixed >= 4 ? $re : "";
        }
        sub out { my ($kind, $re) = @_; print "$kind\tE\t$re\n" if $re ne ""; }
        # a name starts with a capital letter (A-Z, or UTF-8 for AE, O-slash, A-ring...)
        sub name { my ($s) = @_; out("name", template($s)) if $s =~ /^[A-Z\xc3]/; }
        my $line = $_;
        while ($line =~ /"((?:[^"\\]|\\.)*)"/g) {
            my $lit = $1;
            next if $lit eq "";
            (my $plain = $lit) =~ s/\\(.)/$1/g;
            if ($plain =~ /^[^\s@"]+@[^\s@"]+\.[A-Za-z]{2,}$/) {
                out("e-mail address", template($plain));
            } elsif ($plain =~ /^\+?[0-9][0-9 ]{7,15}$/ &&
                     ($plain =~ /^\+/ || $line =~ /phone|PHONE|tel/)) {
                out("phone number", template($plain));
            }
            while ($plain =~ /(?<![0-9])([0-3][0-9][01][0-9]{3})-?([0-9]{4})(?![0-9])/g) {
                out("CPR number", "$1-?$2") if $line =~ /cpr|CPR/ || $plain =~ /-/;
            }
        }
        # actor names: samspilctl --name on actor commands, *NAME*= in shell
        if ($ARGV =~ /\.sh$/) {
            if ($line =~ /\bactor\s+(create|upsert|update)\b/) {
                while ($line =~ /--name[= ]"((?:[^"\\]|\\.)*)"/g) { name($1); }
            }
            name($1) if $line =~ /^\s*(?:local\s+)?\w*NAME\w*="((?:[^"\\]|\\.)*)"/;
        } else {
            name($1) if $line =~ /snprintf\(\s*\w*name\w*(?:\[[^\]]*\])?\s*,[^"]*"((?:[^"\\]|\\.)*)"/i;
            name($1) if $line =~ /(?:\.|->)name\s*=\s*(?:\(char \*\))?"((?:[^"\\]|\\.)*)"/;
        }
    ' "${files[@]}" | sort -u
}

# Values from the database as the owner: "<kind>\tF\t<value>" lines.
db_values() {
    local conninfo=${SAMSPIL_OWNER_DB:-}
    [ -n "$conninfo" ] || return 0
    command -v psql >/dev/null 2>&1 || {
        echo "log-scan: psql not found; names come from the test sources only" >&2
        return 0
    }
    local codes
    if ! codes=$(psql "$conninfo" -X -q -A -t -v ON_ERROR_STOP=1 \
        -c "SELECT code FROM registration.tenants ORDER BY code" 2>/dev/null); then
        echo "log-scan: could not read the tenants from the database; names come from the test sources only" >&2
        return 0
    fi
    local sql="" code
    for code in $codes; do
        # codes are three digits (constraint tenants_code_format)
        [[ $code =~ ^[0-9]{3}$ ]] || continue
        sql+="SELECT set_config('samspil.tenant', '$code', false) IS NULL;
SELECT 'name' || chr(9) || 'F' || chr(9) || name FROM registration.actors
    WHERE erased_at IS NULL;
SELECT 'contact point' || chr(9) || 'F' || chr(9) || (e->>'value')
    FROM registration.actors a, jsonb_array_elements(a.contact_points) e
    WHERE e->>'value' IS NOT NULL;
"
    done
    [ -n "$sql" ] || return 0
    printf '%s' "$sql" | psql "$conninfo" -X -q -A -t -v ON_ERROR_STOP=1 2>/dev/null |
        grep -v -x -e 'f' -e 't' || true
}

cmd_values() {
    local out=$1
    umask 077
    {
        db_values
        source_values
    } | awk -F '\t' '
        NF < 3 { next }
        $3 == "erased" { next }
        $2 == "F" && length($3) < 4 { next }
        !seen[$0]++' >"$out.tmp" || return 1
    # values with quotes or backslashes also as a JSON log line shows them
    awk -F '\t' '$2 == "F" && ($3 ~ /["\\]/) {
        v = $3; gsub(/\\/, "\\\\", v); gsub(/"/, "\\\"", v); print $1 "\t" $2 "\t" v }' \
        "$out.tmp" >"$out.json" || return 1
    cat "$out.tmp" "$out.json" >"$out" && rm -f "$out.tmp" "$out.json"
    echo "log-scan: $(wc -l <"$out") values to look for ($(grep -c '^name' "$out") names)" >&2
}

# ---------------------------------------------------------------- scanning

# The regexes for shapes, "<kind>\tE\t<ERE>".
shape_values() {
    printf '%s\t%s\t%s\n' \
        "e-mail shape" E '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}' \
        "phone shape" E '(^|[^0-9A-Za-z])\+[0-9]{8,15}([^0-9]|$)' \
        "CPR shape" E '(^|[^0-9])(0[1-9]|[12][0-9]|3[01])(0[1-9]|1[0-2])[0-9]{2}-[0-9]{4}([^0-9]|$)' \
        "CPR shape" E '[Cc][Pp][Rr][^0-9A-Za-z*]{1,3}[0-9]{6}-?[0-9]{4}'
}

# The files to scan under home `dir`, one per line.
log_files() {
    local dir=$1
    {
        [ -d "$dir/log" ] && find "$dir/log" -type f ! -name 'test-*.log' ! -name 'log-scan*'
        find "$dir" -path "$dir/pg" -prune -o -path "$dir/log" -prune -o -type f -name '*.log' -print
    } 2>/dev/null | sort -u
}

cmd_scan() {
    local values=$1 dir=$2
    local tmp
    tmp=$(mktemp -d) || return 1
    chmod 700 "$tmp"
    { cat "$values"; shape_values; } >"$tmp/all"
    # one pattern file per kind and mode
    local kinds=()
    local kind
    while IFS= read -r kind; do kinds+=("$kind"); done < <(cut -f1 "$tmp/all" | sort -u)
    local i=0
    for kind in "${kinds[@]}"; do
        awk -F '\t' -v k="$kind" '$1 == k && $2 == "F" { print $3 }' "$tmp/all" >"$tmp/F$i"
        awk -F '\t' -v k="$kind" '$1 == k && $2 == "E" { print $3 }' "$tmp/all" >"$tmp/E$i"
        i=$((i + 1))
    done

    local files=() f
    while IFS= read -r f; do files+=("$f"); done < <(log_files "$dir")
    local hits=0 printed=0 unreadable=0 lines=0
    declare -A found=()
    for f in "${files[@]}"; do
        local rel=${f#"$dir"/}
        if [ ! -r "$f" ]; then
            echo "not ok - log scan: cannot read $rel"
            unreadable=$((unreadable + 1))
            continue
        fi
        lines=$((lines + $(wc -l <"$f")))
        # CURVE keys are logged by design (JSON fields named *key, 40 Z85
        # characters, which include '@' and '.'): blank them so that they
        # cannot look like an e-mail address; line numbers stay
        sed -E 's/("[a-z_]*key":")[][0-9A-Za-z.:+=^!\/*?&<>(){}@%$#-]{40}"/\1"/g' "$f" \
            >"$tmp/masked"
        i=0
        for kind in "${kinds[@]}"; do
            local n icase=()
            # e-mail addresses in any case; names, numbers as written
            case $kind in e-mail*) icase=(-i) ;; esac
            # line numbers only: never the matching text
            for n in $( {
                [ -s "$tmp/F$i" ] && grep -n "${icase[@]}" -F -f "$tmp/F$i" -- "$tmp/masked"
                [ -s "$tmp/E$i" ] && grep -n "${icase[@]}" -E -f "$tmp/E$i" -- "$tmp/masked"
            } | cut -d: -f1 | sort -n -u); do
                hits=$((hits + 1))
                found[$kind]=1
                # for triage only: the line itself, in a file only its owner reads
                [ -n "${LOG_SCAN_HITS:-}" ] &&
                    printf '%s:%s: [%s] %s\n' "$rel" "$n" "$kind" "$(sed -n "${n}p" "$f")" >>"$LOG_SCAN_HITS"
                if [ "$printed" -lt "$MAX_HITS" ]; then
                    echo "not ok - log scan: $kind in $rel:$n"
                    printed=$((printed + 1))
                fi
            done
            i=$((i + 1))
        done
    done
    if [ "$hits" -gt "$printed" ]; then
        echo "not ok - log scan: $((hits - printed)) more lines with personal data (not listed)"
    fi
    for kind in "${kinds[@]}"; do
        [ -n "${found[$kind]:-}" ] ||
            echo "ok - log scan: no $kind in $lines lines of ${#files[@]} logs"
    done
    rm -rf "$tmp"
    [ "$hits" -eq 0 ] && [ "$unreadable" -eq 0 ]
}

# ---------------------------------------------------------------- self-test

# Plant values in a scratch home, scan it, and check the result line by line.
cmd_self_test() {
    local tmp
    tmp=$(mktemp -d) || return 1
    local home=$tmp/home
    mkdir -p "$home/log" "$home/pg/data" "$home/itest-x"
    local name="Planted Person Qx7" email="planted.q7@example.org" phone="+4599887766"
    local cpr="311299-4321"
    printf 'name\tF\t%s\nname\tE\t%s\n' "$name" "Templated $WILD Person" >"$tmp/values"
    {
        printf '%s\n' '{"level":"info","msg":"worker ready","service":"samspil.registration"}'
        printf '{"level":"info","msg":"request","op":"actor_create","name":"%s"}\n' "$name"
        printf '%s\n' '{"level":"info","msg":"request","op":"actor_get","outcome":"ok"}'
        printf '{"level":"warn","msg":"bad contact","value":"%s"}\n' "$email"
    } >"$home/log/registration-1.log"
    {
        printf '2026-11-27 07:00:00.000 UTC [42] ERROR:  duplicate key value\n'
        printf '2026-11-27 07:00:00.000 UTC [42] DETAIL:  Key (phone)=(%s) already exists.\n' "$phone"
    } >"$home/log/postgresql.log"
    printf '{"msg":"x","ref":"cpr:%s"}\n{"msg":"Templated abc123 Person"}\n' "$cpr" \
        >"$home/itest-x/broker.log"
    # not scanned: the database, the tests' own output
    printf '%s\n' "$name" >"$home/pg/data/actors"
    printf 'ok - created %s\n' "$name" >"$home/log/test-test_x.log"
    # clean
    printf '%s\n' '{"level":"info","msg":"broker started","version":"0.1.0","heartbeat_ms":1000}' \
        '{"msg":"seq","seq":1234567890,"occurred_at_us":1795000000000000}' \
        '{"msg":"key created","key_name":"alice","public_key":"Lns47E1%kR.o@n.Fcmmsq.L/@{H8]yf7rq:rM>}U"}' \
        >"$home/log/broker.log"

    local out rc=0 pass=0 fail=0
    out=$(cmd_scan "$tmp/values" "$home")
    local expect
    for expect in "name in log/registration-1.log:2" "e-mail shape in log/registration-1.log:4" \
        "phone shape in log/postgresql.log:2" "CPR shape in itest-x/broker.log:1" \
        "name in itest-x/broker.log:2"; do
        if printf '%s\n' "$out" | grep -q -x -F "not ok - log scan: $expect"; then
            echo "ok - log scan self-test: finds $expect"
            pass=$((pass + 1))
        else
            echo "not ok - log scan self-test: does not find $expect"
            fail=$((fail + 1))
        fi
    done
    local nots
    nots=$(printf '%s\n' "$out" | grep -c '^not ok - ')
    if [ "$nots" -eq 5 ]; then
        echo "ok - log scan self-test: nothing else is reported (clean logs, CURVE keys, pg/, test output)"
    else
        echo "not ok - log scan self-test: $nots findings, expected 5"
        printf '%s\n' "$out" | sed 's/^/# /'
        fail=$((fail + 1))
    fi
    if printf '%s\n' "$out" | grep -q -i -F -e "$name" -e "$email" -e "$phone" -e "$cpr" \
        -e "abc123"; then
        echo "not ok - log scan self-test: a planted value appears in the scan's output"
        fail=$((fail + 1))
    else
        echo "ok - log scan self-test: the report names files and lines, never values"
    fi
    # values from test sources: literals and templates become patterns
    source_values >"$tmp/src"
    if grep -q "^e-mail address"$'\t' "$tmp/src" && grep -q "^name"$'\t' "$tmp/src"; then
        echo "ok - log scan self-test: e-mail addresses and names are taken from the test sources"
    else
        echo "not ok - log scan self-test: no e-mail addresses or names taken from the test sources"
        fail=$((fail + 1))
    fi
    rm -rf "$tmp"
    [ "$fail" -eq 0 ] || rc=1
    return $rc
}

case ${1:-} in
values)
    [ $# -eq 2 ] || { echo "usage: $0 values OUT" >&2; exit 2; }
    cmd_values "$2"
    ;;
scan)
    [ $# -eq 3 ] || { echo "usage: $0 scan VALUES DIR" >&2; exit 2; }
    cmd_scan "$2" "$3"
    ;;
self-test)
    cmd_self_test
    ;;
*)
    echo "usage: $0 values OUT | scan VALUES DIR | self-test" >&2
    exit 2
    ;;
esac
