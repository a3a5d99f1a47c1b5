#!/usr/bin/env bash
# run-fuzz.sh - what `make fuzz` runs after building: each libFuzzer target
# for FUZZ_SECONDS (default 60) from its committed seed corpus.
#
#   tests/fuzz/run-fuzz.sh [TARGET...]     (default: every build/fuzz/fuzz_*)
#
# The committed corpus tests/fuzz/corpus/<target>/ is copied to
# build/fuzz/work/<target>/corpus, which the run grows; the committed one
# changes only when someone copies inputs back (docs/testing.md, "Fuzzing").
# A crash, sanitizer report, leak, timeout (FUZZ_TIMEOUT, 10 s per input) or
# out-of-memory (FUZZ_RSS_MB, 2048) is a finding: the input is saved as
# build/fuzz/artifacts/<target>/crash-<sha1> (or leak-, timeout-, oom-),
# the log is build/fuzz/work/<target>/fuzz.log, and the run fails.
#
# Environment: FUZZ_SECONDS, FUZZ_TIMEOUT, FUZZ_RSS_MB, FUZZ_DIR (build/fuzz),
# FUZZ_ARGS (more libFuzzer flags).
#
# Ends with one line per target, "fuzz <target>: <runs> runs in <s> s,
# <n> corpus inputs (<m> committed), ok|FINDING <artifact>", and
# "N passed, N failed".
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
FUZZ_DIR=${FUZZ_DIR:-build/fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}

# readable stacks: llvm-symbolizer from llvm-14 (or any on PATH)
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ]; then
    for s in /usr/lib/llvm-14/bin/llvm-symbolizer "$(command -v llvm-symbolizer 2>/dev/null)"; do
        if [ -n "$s" ] && [ -x "$s" ]; then
            export ASAN_SYMBOLIZER_PATH=$s
            break
        fi
    done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
unset SAMSPIL_FUZZ_SEEDS

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for bin in "$FUZZ_DIR"/fuzz_*; do
        [ -x "$bin" ] && targets+=("${bin##*/fuzz_}")
    done
fi
if [ ${#targets[@]} -eq 0 ]; then
    echo "run-fuzz: no targets in $FUZZ_DIR (run make fuzz-build)"
    echo "0 passed, 1 failed"
    exit 1
fi

passed=0
failed=0
summary=()
for t in "${targets[@]}"; do
    bin=$FUZZ_DIR/fuzz_$t
    seeds=tests/fuzz/corpus/$t
    work=$FUZZ_DIR/work/$t
    artifacts=$FUZZ_DIR/artifacts/$t
    if [ ! -x "$bin" ]; then
        summary+=("fuzz $t: not built ($bin)")
        failed=$((failed + 1))
        continue
    fi
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/tmp" "$artifacts"
    committed=0
    if [ -d "$seeds" ]; then
        cp -p "$seeds"/* "$work/corpus/" 2>/dev/null
        committed=$(find "$seeds" -type f | wc -l)
    fi
    args=()
    [ -f "tests/fuzz/$t.dict" ] && args+=("-dict=tests/fuzz/$t.dict")
    [ -f "tests/fuzz/$t.options" ] && read -r -a extra <"tests/fuzz/$t.options" && args+=("${extra[@]}")
    echo "== fuzz $t: ${FUZZ_SECONDS} s from $committed committed inputs"
    before=$(find "$artifacts" -type f | wc -l)
    started=$(date +%s)
    # shellcheck disable=SC2086
    # targets that make temporary files (a key registry, a key ring) make
    # them here: a crash skips their clean-up, and this is wiped next run
    TMPDIR=$work/tmp "$bin" -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb="$FUZZ_RSS_MB" \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "${args[@]}" ${FUZZ_ARGS:-} \
        "$work/corpus" >"$work/fuzz.log" 2>&1
    rc=$?
    elapsed=$(($(date +%s) - started))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -1)
    inputs=$(find "$work/corpus" -type f | wc -l)
    after=$(find "$artifacts" -type f | wc -l)
    if [ "$rc" -eq 0 ] && [ "$after" -eq "$before" ]; then
        summary+=("fuzz $t: ${runs:-?} runs in $elapsed s, $inputs corpus inputs ($committed committed), ok")
        passed=$((passed + 1))
    else
        artifact=$(ls -t "$artifacts"/* 2>/dev/null | head -1)
        echo "run-fuzz: $t found a problem (exit $rc); the report:"
        grep -n -m1 -B2 -A40 -E '^==[0-9]+==ERROR|runtime error:|fuzz: invariant failed|^==[0-9]+== ERROR: libFuzzer' \
            "$work/fuzz.log" | head -60
        echo "run-fuzz: reproduce with: $bin ${artifact:-<no artifact>}"
        summary+=("fuzz $t: ${runs:-?} runs in $elapsed s, $inputs corpus inputs ($committed committed), FINDING ${artifact:-exit $rc} (log $work/fuzz.log)")
        failed=$((failed + 1))
    fi
done

for line in "${summary[@]}"; do
    echo "$line"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
