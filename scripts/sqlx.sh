#!/usr/bin/env bash
# The compile-time checked queries' data in .sqlx/: `scripts/sqlx.sh prepare` regenerates it after a query or a
# migration changed; `scripts/sqlx.sh check` (CI) fails when it is stale. Both run against a scratch database
# with exactly the migrations applied, in the private cluster under target/test-db.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
mode="${1:-}"
case "$mode" in
    prepare) check=() ;;
    check) check=(--check) ;;
    *) echo "usage: scripts/sqlx.sh prepare|check" >&2; exit 2 ;;
esac
ensure_packages postgresql-15-postgis-3
ensure_sqlx_cli

roadledger="${CARGO_TARGET_DIR:-target}/debug/roadledger"
# The binary starts the cluster. After a query changed, the sources do not build offline until .sqlx/ is
# regenerated, so `prepare` falls back to the binary built before; `check` must build.
if ! cargo build --bin roadledger; then
    if [ "$mode" = prepare ] && [ -x "$roadledger" ]; then
        echo "using the $roadledger built before: the sources build again once .sqlx/ is regenerated" >&2
    else
        exit 1
    fi
fi
data_dir=target/test-db
cluster_url="$("$roadledger" db start --data-dir "$data_dir" | tail -n 1)"
trap '"$roadledger" db stop --data-dir "$data_dir" >/dev/null 2>&1 || true' EXIT

# The cluster's URL names its main database (postgres://roadledger@localhost/roadledger?host=…).
DATABASE_URL="${cluster_url/\/roadledger\?//roadledger_sqlx?}"
export DATABASE_URL
cargo sqlx database drop -y
cargo sqlx database create
cargo sqlx migrate run --source migrations
cargo sqlx prepare "${check[@]}"
