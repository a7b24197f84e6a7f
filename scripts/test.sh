#!/usr/bin/env bash
# Runs every check dyad's CI runs, in order: formatting, lints, the whole
# workspace's tests (unit, property, cross-implementation and integration,
# with a PostgreSQL server for the datastore's PostgreSQL tests), the doc
# tests, the API docs (no broken links), and a short run of every fuzz
# target.
#
# Builds are cached outside the checkout (in $CARGO_TARGET_DIR, by default
# ~/.cache/dyad-target) so that a fresh clone does not start from nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dyad-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE=1

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "PostgreSQL for the datastore tests (scripts/postgres.sh)"
# Starts (installing it first on a fresh machine) a local server and exports
# DYAD_TEST_DATABASE_URL, unless that is already set; the PostgreSQL tests
# run every datastore test on it, one fresh database per test.
# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    echo "cargo-nextest not found; falling back to cargo test"
    cargo test --workspace --locked --no-fail-fast
fi

step "doc tests"
cargo test --workspace --locked --doc

step "API docs (broken intra-doc links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
# Private items too: the modules' "Where is" indexes link to private
# functions, and a renamed one must not leave a dead link behind.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet \
    --document-private-items

step "fuzz targets, a few seconds each from the kept corpus (scripts/fuzz.sh)"
./scripts/fuzz.sh 3

step "all checks passed"
