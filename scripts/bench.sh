#!/usr/bin/env bash
# Runs dyad's criterion benches (the hot paths: HPKE open for every suite,
# the upload's per-report work, preparation init/continue, report writes on
# SQLite and, when a PostgreSQL server is reachable, on PostgreSQL).
#
#   scripts/bench.sh                          # run, compare with the last run
#   scripts/bench.sh --save-baseline before   # run and keep the figures as "before"
#   scripts/bench.sh --baseline before        # run and compare with "before"
#   BENCHES="hpke_open" scripts/bench.sh      # only some benches
#
# Arguments go to criterion. Figures depend on the machine and its load:
# compare runs made on the same, otherwise quiet, machine. Results are under
# target/criterion (or $CARGO_TARGET_DIR/criterion).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${DYAD_TEST_DATABASE_URL:-}" ] && [ -f scripts/postgres.sh ]; then
    # shellcheck source=/dev/null
    source scripts/postgres.sh >/dev/null || echo "bench.sh: no PostgreSQL; report writes on SQLite only" >&2
fi
# One cargo invocation for every bench, so that the crates are built once
# with the same features.
targets=()
for bench in ${BENCHES:-hpke_open prepare report_insert}; do
    case "$bench" in
        hpke_open | prepare | report_insert) targets+=(--bench "$bench") ;;
        *) echo "bench.sh: unknown bench $bench (hpke_open, prepare, report_insert)" >&2; exit 2 ;;
    esac
done
cargo bench -p dyad-core -p dyad-protocol -p dyad-datastore "${targets[@]}" -- "$@"
