#!/usr/bin/env bash
# Runs every test of apiws against real PostgreSQL and Redis, starting them
# when they do not answer. Usage: ./scripts/test.sh [go test flags...]
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL="${APIWS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
REDIS_URL="${APIWS_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
export APIWS_TEST_POSTGRES_URL="$PG_URL" APIWS_TEST_REDIS_URL="$REDIS_URL"

wait_for() { # wait_for NAME COMMAND...
  local name=$1; shift
  for _ in $(seq 1 50); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "test.sh: $name does not answer" >&2
  return 1
}

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "test.sh: starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  wait_for PostgreSQL pg_isready -q -h 127.0.0.1 -p 5432
fi
if ! psql "$PG_URL" -Atc 'SELECT 1' >/dev/null 2>&1; then
  echo "test.sh: creating the test database" >&2
  psql "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable" -c 'CREATE DATABASE test' >/dev/null
fi

if ! redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then
  echo "test.sh: starting Redis" >&2
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  wait_for Redis redis-cli -u "$REDIS_URL" ping
fi

# stripe-mock, Stripe's mock of its API, for the billing tests.
if ! command -v stripe-mock >/dev/null 2>&1 && [ ! -x "$(go env GOPATH)/bin/stripe-mock" ]; then
  echo "test.sh: installing stripe-mock" >&2
  go install github.com/stripe/stripe-mock@v0.203.0
fi

go test -race -count=1 -timeout 20m "$@" ./...
