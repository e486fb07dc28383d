#!/usr/bin/env bash
# scripts/fuzz.sh -- builds the libFuzzer targets of fuzz/ (clang) and runs
# each for a set time on its seed corpus (fuzz/corpus/<target>).
#
#   scripts/fuzz.sh                 every target, FUZZ_SECONDS each (default 60)
#   scripts/fuzz.sh --short         every target, 10 s each (part of make test)
#   scripts/fuzz.sh [--short] json envelope ...   only these targets
#   scripts/fuzz.sh --list          the target names
#
# Settings: FUZZ_SECONDS (per target; overrides the --short default too),
# FUZZ_JOBS (not used: one process per target, one after another; the machine
# has two cores and libFuzzer's own -jobs would double the memory).
#
# New inputs found are kept in build/fuzz/corpus/<target> (the repository's
# seeds are read, never written); crashes, leaks and timeouts are written to
# build/fuzz/artifacts/<target>/ and make this script exit non-zero. Prints
# one summary line per target: executions, executions per second, coverage.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

FB=build/fuzz
seconds_default=60
targets=()
for arg in "$@"; do
    case "$arg" in
        --short) seconds_default=10 ;;
        --list)
            for t in fuzz/targets/*.c; do basename "$t" .c; done
            exit 0
            ;;
        -h | --help)
            sed -n '2,18p' "$0"
            exit 0
            ;;
        -*)
            echo "fuzz: unknown option $arg" >&2
            exit 2
            ;;
        *) targets+=("$arg") ;;
    esac
done
SECONDS_EACH="${FUZZ_SECONDS:-$seconds_default}"
if [ ${#targets[@]} -eq 0 ]; then
    for t in fuzz/targets/*.c; do targets+=("$(basename "$t" .c)"); done
fi

command -v clang >/dev/null || {
    echo "fuzz: clang is needed (apt-get install clang libclang-rt-14-dev)" >&2
    exit 2
}

echo "fuzz: building ${#targets[@]} targets into $FB/bin"
binaries=()
for t in "${targets[@]}"; do binaries+=("$FB/bin/$t"); done
make -s -f fuzz/fuzz.mk -j2 "${binaries[@]}"

# The longest input each target is given: the HTTP targets take a body of up
# to 64 KiB plus their three header lines; a Pulsar frame may be several MiB,
# but coverage comes from structure, not size, so 1 MiB keeps the runs fast.
max_len_of() {
    case "$1" in
        http_*) echo $((64 * 1024 + 1024)) ;;
        pulsar_*) echo $((1024 * 1024)) ;;
        json | envelope) echo $((64 * 1024 + 1024)) ;;
        dotenv) echo $((16 * 1024)) ;;
        *) echo 4096 ;;
    esac
}

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()
for t in "${targets[@]}"; do
    seeds="fuzz/corpus/$t"
    work="$FB/corpus/$t"
    artifacts="$FB/artifacts/$t"
    log="$FB/logs/$t.log"
    mkdir -p "$work" "$artifacts" "$(dirname "$log")"
    [ -d "$seeds" ] || seeds=""
    rc=0
    # The first corpus directory receives new inputs: the build one, so the
    # repository's seeds stay as committed.
    "$FB/bin/$t" -max_total_time="$SECONDS_EACH" -max_len="$(max_len_of "$t")" -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "$work" ${seeds:+"$seeds"} >"$log" 2>&1 || rc=$?
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
    cov="$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)"
    if [ "$rc" -eq 0 ]; then
        printf 'fuzz: %-16s ok     %10s execs %8s exec/s  cov %s  (%ss)\n' "$t" "${execs:-?}" "${speed:-?}" \
            "${cov:-?}" "$SECONDS_EACH"
    else
        failed+=("$t")
        printf 'fuzz: %-16s FAILED %10s execs %8s exec/s  (exit %d; log %s)\n' "$t" "${execs:-?}" "${speed:-?}" \
            "$rc" "$log"
        grep -E 'ERROR:|SUMMARY:|check failed|http_driver:|Test unit written' "$log" | sed 's/^/    /' | head -n 12
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]} (inputs in $FB/artifacts/<target>/;" \
        "reproduce with $FB/bin/<target> <input>)" >&2
    exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${SECONDS_EACH}s without a failure"
