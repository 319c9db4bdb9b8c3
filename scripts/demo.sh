#!/usr/bin/env bash
# Run RoadLedger with the Zhangjiagang demo dataset on the embedded database (a private PostgreSQL + PostGIS
# cluster under ./var). Extra arguments go to `roadledger serve`, e.g. --listen 0.0.0.0:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_packages postgresql-15-postgis-3 fonts-noto-cjk
ensure_web_modules
exec cargo run --bin roadledger -- serve --demo "$@"
