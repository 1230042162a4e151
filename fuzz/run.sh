#!/bin/sh
# Run the cargo-fuzz targets, two at a time, each for SECONDS (default 600), niced;
# then minimize each corpus with `cargo fuzz cmin` (`-use_counters=0`: one input per
# coverage edge rather than per hit-count bucket, which keeps the corpora ~10x smaller). Figures per target end up in
# fuzz/logs/<target>.log (libFuzzer's final stats). Works on the stable toolchain:
# `-s none` builds without a sanitizer, so no nightly `-Z` flag is passed; the
# coverage instrumentation (`-Cpasses=sancov-module ...`) is stable rustc.
#
#   fuzz/run.sh [SECONDS] [TARGET...]       e.g. fuzz/run.sh 60 host cursor
#
# Needs `cargo install cargo-fuzz`. CARGO_TARGET_DIR is honoured (default fuzz/target).
# A finding stops its target: the input is in fuzz/artifacts/<target>/; replay it with
# `cargo fuzz run -s none <target> fuzz/artifacts/<target>/<file>`.
set -eu
cd "$(dirname "$0")"
SECONDS_EACH=${1:-600}
[ $# -gt 0 ] && shift
TARGETS=${*:-"host names bodies cursor archive"}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
FUZZ="cargo fuzz"
mkdir -p logs

cargo fuzz build -s none --target-dir "$TARGET_DIR"

# The plain tar seed of `archive` is over 4 KiB; the others stay at libFuzzer's default.
max_len() { [ "$1" = archive ] && echo 16384 || echo 4096; }

run_one() {
    t=$1
    mkdir -p "corpus/$t"
    nice -n 10 $FUZZ run -s none --target-dir "$TARGET_DIR" "$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$(max_len "$t")" -print_final_stats=1 >"logs/$t.log" 2>&1 \
        && echo "$t: done" || echo "$t: FINDING (see fuzz/logs/$t.log, fuzz/artifacts/$t/)"
}

set -- $TARGETS
while [ $# -gt 0 ]; do
    run_one "$1" &
    if [ $# -gt 1 ]; then run_one "$2" & shift; fi
    shift
    wait
done

for t in $TARGETS; do
    nice -n 10 $FUZZ cmin -s none --target-dir "$TARGET_DIR" "$t" "corpus/$t" -- \
        -max_len="$(max_len "$t")" -use_counters=0 >>"logs/$t.log" 2>&1
    grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|Done [0-9]+ runs" "logs/$t.log" | sed "s/^/$t: /"
    echo "$t: corpus $(ls "corpus/$t" | wc -l) files, $(du -sk "corpus/$t" | cut -f1) KiB"
done
