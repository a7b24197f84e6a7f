#!/usr/bin/env bash
# Makes sure a PostgreSQL server is running for dyad's tests and sets
# DYAD_TEST_DATABASE_URL to a URL that logs in to it without a prompt.
#
#   source scripts/postgres.sh   # exports DYAD_TEST_DATABASE_URL (what test.sh does)
#   scripts/postgres.sh          # prints the URL
#
# - If DYAD_TEST_DATABASE_URL is already set, it is used as is (nothing is
#   installed or started).
# - Otherwise, if no PostgreSQL server is installed, Debian's `postgresql`
#   package is installed (apt-get; needs root, or sudo without a password).
# - The newest installed version's `main` cluster is created if missing and
#   started (pg_ctlcluster, without systemd), then waited for (pg_isready).
# - The `postgres` role gets the password `postgres`, and the URL
#   postgres://postgres:postgres@127.0.0.1:PORT/postgres is checked with psql.
#
# Idempotent: on a machine where the server is already up it only checks
# (and drops test databases that killed test runs left behind). The tests
# create (and drop) one database per test on that server.

dyad_postgres_as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        echo "postgres.sh: need root (or sudo) to run: $*" >&2
        return 1
    fi
}

dyad_postgres_as_postgres() {
    if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null 2>&1; then
        runuser -u postgres -- "$@"
    else
        dyad_postgres_as_root su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
}

dyad_postgres_up() {
    if [ -n "${DYAD_TEST_DATABASE_URL:-}" ]; then
        echo "postgres.sh: using DYAD_TEST_DATABASE_URL from the environment" >&2
        return 0
    fi

    local log
    log="$(mktemp -t dyad-postgres.XXXXXX)"

    # shellcheck disable=SC2012
    if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
        echo "postgres.sh: installing PostgreSQL (apt-get install postgresql)..." >&2
        local started=$SECONDS
        if ! { dyad_postgres_as_root apt-get update -qq &&
            dyad_postgres_as_root env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq --no-install-recommends postgresql; } >"$log" 2>&1; then
            cat "$log" >&2
            echo "postgres.sh: installing PostgreSQL failed" >&2
            return 1
        fi
        echo "postgres.sh: installed in $((SECONDS - started))s" >&2
    fi

    local version
    # shellcheck disable=SC2012
    version="$(ls -d /usr/lib/postgresql/*/bin/postgres | sed -E 's#.*/postgresql/([^/]+)/bin/postgres#\1#' |
        sort -V | tail -n 1)"

    if ! pg_lsclusters -h 2>/dev/null | awk -v v="$version" '$1 == v && $2 == "main" { found = 1 } END { exit !found }'; then
        echo "postgres.sh: creating cluster $version/main" >&2
        if ! dyad_postgres_as_root pg_createcluster "$version" main >"$log" 2>&1; then
            cat "$log" >&2
            return 1
        fi
    fi

    local port status
    port="$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" { print $3 }')"
    status="$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" { print $4 }')"
    if [ "$status" != "online" ]; then
        echo "postgres.sh: starting cluster $version/main on port $port" >&2
        if ! dyad_postgres_as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start >"$log" 2>&1; then
            cat "$log" >&2
            tail -n 20 "/var/log/postgresql/postgresql-$version-main.log" >&2 2>/dev/null || true
            return 1
        fi
    fi

    local waited=0
    until pg_isready -q -h 127.0.0.1 -p "$port"; do
        if [ "$waited" -ge 60 ]; then
            echo "postgres.sh: the server on port $port is not ready after 30s" >&2
            return 1
        fi
        sleep 0.5
        waited=$((waited + 1))
    done

    local url="postgres://postgres:postgres@127.0.0.1:$port/postgres"
    if ! psql "$url" -Atqc 'SELECT 1' >/dev/null 2>&1; then
        # Debian's default: peer login over the socket for the postgres user,
        # passwords over TCP. Give the postgres role a (test) password.
        if ! (cd / && dyad_postgres_as_postgres psql -p "$port" -qc \
            "ALTER ROLE postgres PASSWORD 'postgres'") >"$log" 2>&1; then
            cat "$log" >&2
            return 1
        fi
        if ! psql "$url" -Atqc 'SELECT 1' >"$log" 2>&1; then
            cat "$log" >&2
            echo "postgres.sh: cannot log in with $url" >&2
            return 1
        fi
    fi
    rm -f "$log"

    # Test databases left by test runs that were killed: those created more
    # than six hours ago (the time is in the name, dyad_test_t<secs>_<hex>),
    # never one a run going on beside this one may still use (names of the
    # older form dyad_test_<hex> carry no time and always go); those still
    # in use are kept anyway (DROP DATABASE refuses them).
    local stale
    for stale in $(psql "$url" -Atqc "SELECT datname FROM pg_database
        WHERE (datname ~ '^dyad_test_t[0-9]+_'
               AND substring(datname from '^dyad_test_t([0-9]+)_')::bigint
                   < extract(epoch from now())::bigint - 6 * 3600)
           OR datname ~ '^dyad_test_[0-9a-f]{16}$'"); do
        psql "$url" -qc "DROP DATABASE \"$stale\"" >/dev/null 2>&1 || true
    done

    export DYAD_TEST_DATABASE_URL="$url"
    echo "postgres.sh: PostgreSQL $version is up: DYAD_TEST_DATABASE_URL=$url" >&2
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    dyad_postgres_up
    echo "$DYAD_TEST_DATABASE_URL"
else
    dyad_postgres_up
fi
