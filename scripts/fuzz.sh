#!/usr/bin/env bash
# Runs the fuzz targets in fuzz/ (one per top-level DAP message: decoding
# arbitrary bytes never panics, and whatever decodes re-encodes to exactly the
# input) for SECONDS each, starting from the corpus kept in fuzz/corpus/.
#
#   scripts/fuzz.sh                 every target, 3 s each (what CI runs)
#   scripts/fuzz.sh 600 report      one target for ten minutes
#   scripts/fuzz.sh --grow 300      every target for five minutes, then fold
#                                   the inputs that reached new code into
#                                   fuzz/corpus/ (minimised; commit them)
#
# Builds with libFuzzer's coverage instrumentation on the stable toolchain
# (no sanitizer: the messages crate has no unsafe code, so a panic is what a
# fuzzer can find there; `cargo fuzz` with AddressSanitizer works as well,
# see README.md). The build is cached in $CARGO_TARGET_DIR/fuzz-run.
# A crash stops the run with the failing input saved under fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=3
grow=false
targets=()
for arg in "$@"; do
    case "$arg" in
        --grow) grow=true ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        ''|*[!0-9]*) targets+=("$arg") ;;
        *) seconds=$arg ;;
    esac
done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dyad-target}"
triple=$(rustc -vV | sed -n 's/^host: //p')
# The flags cargo fuzz passes, minus the sanitizer. With --target, they apply
# to the fuzzed code only, not to build scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
build_dir="$CARGO_TARGET_DIR/fuzz-run"
cargo build --manifest-path fuzz/Cargo.toml --release --locked --bins \
    --target "$triple" --target-dir "$build_dir" --quiet
bin_dir="$build_dir/$triple/release"

if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^dyad-fuzz$')
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
printf '%-30s %10s %8s %8s\n' target runs corpus new
for target in "${targets[@]}"; do
    bin="$bin_dir/$target"
    if [ ! -x "$bin" ]; then
        echo "no fuzz target named $target (see fuzz/Cargo.toml)" >&2
        exit 2
    fi
    corpus="fuzz/corpus/$target"
    found="$scratch/$target"
    artifacts="fuzz/artifacts/$target"
    mkdir -p "$corpus" "$found" "$artifacts"
    log="$scratch/$target.log"
    # New inputs go to $found; the kept corpus is only read.
    if ! "$bin" "$found" "$corpus" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$artifacts/" -print_final_stats=1 \
        >"$log" 2>&1; then
        echo "$target: FAILED; the fuzzer said:" >&2
        grep -v '^#[0-9]' "$log" | tail -40 >&2
        echo "the failing input is in $artifacts/; replay it with: $bin <file>" >&2
        failed=1
        continue
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    printf '%-30s %10s %8s %8s\n' "$target" "${runs:-?}" \
        "$(find "$corpus" -type f | wc -l)" "$(find "$found" -type f | wc -l)"
    if $grow; then
        "$bin" -merge=1 "$corpus" "$found" >"$log.merge" 2>&1 || {
            echo "$target: merging into $corpus failed" >&2
            tail -20 "$log.merge" >&2
            failed=1
        }
    fi
done
exit "$failed"
