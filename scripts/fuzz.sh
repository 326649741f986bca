#!/usr/bin/env bash
# A short fuzz run of every document extractor (cargo-fuzz: libFuzzer + ASan).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 20; the targets default to all of them:
#   pdf docx odt zip tnef   the extractors on arbitrary bytes
#   text                    glyphs::checkboxes_in_text and dates::* on text
#   mail                    analyse::analyse on a whole raw mail
#   bounce                  intake::bounce::parse on a whole raw mail
#   staff                   command mails (parse, Authentication-Results,
#                           authenticate) and roster CSV files
#   ics                     the .ics writer with arbitrary text in every field
# (sources in fuzz/fuzz_targets/, shared limits in fuzz/src/lib.rs).
#
# What it does: installs cargo-fuzz if it is missing, generates seed inputs
# (fuzz/make_seeds.py -> fuzz/seeds/<target>/), builds all targets, runs each
# for SECONDS_PER_TARGET seconds, and prints one line per target. Exits 1 if
# any target found a crash, an ASan error, a timeout (>10 s for one input) or
# an out-of-memory (>2 GiB), and names the input that did it
# (fuzz/artifacts/<target>/...). Full output: fuzz/logs/<target>.log.
# Inputs the fuzzer found interesting are kept in fuzz/corpus/<target>/ and
# reused by the next run. Seeds, corpus, artifacts, logs and the build
# (fuzz/target/) are not committed.
#
# Reproduce or inspect one input:
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>
#   POSTBOTE_FUZZ_SHOW=1 RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <file>   # print what was read
#
# By default the targets are built like the daemon's release build (cargo
# fuzz -O, no debug assertions, in fuzz/target/no-debug-assertions/).
# FUZZ_DEBUG_ASSERTIONS=1 turns debug assertions and overflow checks on, as in
# `cargo test` (in fuzz/target/); the `mail` target then stops at a
# debug_assert! inside mail-parser 0.11.9 (see README).
#
# RUSTC_BOOTSTRAP=1: cargo-fuzz builds with nightly-only compiler flags
# (-Zsanitizer=address and friends). This project uses the stable toolchain
# only, and RUSTC_BOOTSTRAP=1 makes stable rustc accept those flags. It is
# set for the fuzz build alone (its own target dir, fuzz/target/); never use
# it for the normal build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/fuzz"
ALL_TARGETS=(pdf docx odt zip tnef text mail bounce staff ics)

SECS="${1:-20}"
if ! [[ "$SECS" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]  (targets: ${ALL_TARGETS[*]})" >&2
    exit 2
fi
shift || true
if (($# > 0)); then
    TARGETS=("$@")
    for t in "${TARGETS[@]}"; do
        if [[ ! -f "$FUZZ/fuzz_targets/$t.rs" ]]; then
            echo "unknown target '$t' (targets: ${ALL_TARGETS[*]})" >&2
            exit 2
        fi
    done
else
    TARGETS=("${ALL_TARGETS[@]}")
fi

export RUSTC_BOOTSTRAP=1
# The fuzz crate is a workspace of its own; keep its build out of target/.
export CARGO_TARGET_DIR="$FUZZ/target"
BUILD_ARGS=()
MODE="debug assertions on"
# Default: build as the daemon is built (release, no debug assertions).
# FUZZ_DEBUG_ASSERTIONS=1 fuzzes with debug assertions, as `cargo test` runs;
# it stops at a debug_assert! in mail-parser 0.11.9 (target `mail`, see README).
if [[ "${FUZZ_DEBUG_ASSERTIONS:-0}" == 0 ]]; then
    FUZZ_NO_DEBUG_ASSERTIONS=1
fi
if [[ "${FUZZ_NO_DEBUG_ASSERTIONS:-0}" != 0 ]]; then
    BUILD_ARGS=(-O)
    MODE="no debug assertions"
    export CARGO_TARGET_DIR="$FUZZ/target/no-debug-assertions"
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked
fi
if ! command -v python3 >/dev/null; then
    echo "python3 is needed to generate the seed inputs" >&2
    exit 2
fi

cd "$ROOT"
echo "== $(cargo fuzz --version), $(rustc --version)"
echo "== seeds"
python3 "$FUZZ/make_seeds.py" "$FUZZ/seeds"
echo "== building ${TARGETS[*]} (ASan, optimised, $MODE)"
for t in "${TARGETS[@]}"; do
    cargo fuzz build "${BUILD_ARGS[@]}" "$t"
done

mkdir -p "$FUZZ/logs"
failed=0
summary=()
for t in "${TARGETS[@]}"; do
    mkdir -p "$FUZZ/corpus/$t" "$FUZZ/artifacts/$t"
    log="$FUZZ/logs/$t.log"
    echo "== fuzzing $t for ${SECS}s (log: fuzz/logs/$t.log)"
    rc=0
    # The first corpus dir receives new inputs; the seeds are read only.
    cargo fuzz run "${BUILD_ARGS[@]}" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1 || rc=$?

    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    if [[ -z "$runs" ]]; then
        # No final stats (e.g. killed): take the last status line "#N ...".
        runs="$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#' || true)"
    fi
    runs="${runs:-0}"
    corpus="$(find "fuzz/corpus/$t" -type f | wc -l | tr -d ' ')"
    artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)"

    if ((rc == 0)) && [[ -z "$artifact" ]]; then
        line="$(printf '%-5s PASS %10s runs in %ss, corpus %s' "$t" "$runs" "$SECS" "$corpus")"
    else
        failed=1
        what="$(grep -m1 -oE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer): .*|panicked at .*' "$log" || true)"
        what="${what:-cargo fuzz exited with $rc}"
        line="$(printf '%-5s FAIL %10s runs: %s; input: %s' "$t" "$runs" "$what" "${artifact:-none written}")"
        # The panic message is the line after "panicked at".
        msg="$(grep -m1 -A1 'panicked at' "$log" | sed -n 2p || true)"
        [[ -n "$msg" ]] && line+=$'\n'"      panic: $msg"
    fi
    echo "$line"
    summary+=("$line")
done

echo
echo "== summary (${SECS}s per target, $MODE)"
printf '%s\n' "${summary[@]}"
if ((failed)); then
    echo "== FAILED: reproduce with RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <input>; logs in fuzz/logs/" >&2
    exit 1
fi
echo "== all targets passed"
