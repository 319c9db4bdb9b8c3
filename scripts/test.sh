#!/usr/bin/env bash
# Run the whole test suite: unit tests, API tests against a real PostGIS (a fresh database per test), and
# browser tests in headless Chromium. Starts its own private PostgreSQL cluster under target/test-db.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_packages postgresql-15-postgis-3 chromium fonts-noto-cjk poppler-utils gdal-bin
ensure_web_modules
ensure_moto

cargo build --bin roadledger
roadledger="${CARGO_TARGET_DIR:-target}/debug/roadledger"
data_dir=target/test-db
DATABASE_URL="$("$roadledger" db start --data-dir "$data_dir" | tail -n 1)"
export DATABASE_URL
trap '"$roadledger" db stop --data-dir "$data_dir" >/dev/null 2>&1 || true' EXIT

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --no-fail-fast "$@"
else
    cargo test --no-fail-fast "$@"
fi
