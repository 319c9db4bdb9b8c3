#!/usr/bin/env bash
# Dependency hygiene (run by CI): cargo deny checks the licences, sources and duplicate versions of every crate
# in Cargo.lock, and the advisories of the RustSec database; npm audit checks web/'s production packages (the
# MapLibre tree the pages load; playwright-core and axe-core are test tools).
#
# Both advisory databases live on the network (GitHub for RustSec, registry.npmjs.org's audit endpoint for npm).
# Where they cannot be reached, as in this project's CI, the script says so and goes on: the licence, source
# and duplicate checks are offline and always run. Give a local copy of the RustSec database (a clone of
# github.com/rustsec/advisory-db) in ROADLEDGER_ADVISORY_DB to check advisories without the network.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_cargo_deny

cargo deny --locked check --hide-inclusion-graph licenses bans sources

advisories_log="$(mktemp)"
trap 'rm -f "$advisories_log"' EXIT
if [ -n "${ROADLEDGER_ADVISORY_DB:-}" ]; then
    # cargo deny reads its database from `db-path`/advisory-db-<hash of the URL>; a clone is put there and read
    # with --offline.
    db_root="$(mktemp -d)"
    trap 'rm -f "$advisories_log"; rm -rf "$db_root"' EXIT
    sed "s|^\[advisories\]|[advisories]\ndb-path = \"$db_root/dbs\"|" deny.toml > "$db_root/deny.toml"
    git clone -q "$ROADLEDGER_ADVISORY_DB" "$db_root/dbs/advisory-db-3157b0e258782691"
    cargo deny --locked --offline --config "$db_root/deny.toml" check advisories
    echo "advisories: checked against the RustSec database of $(git -C "$ROADLEDGER_ADVISORY_DB" log -1 --format=%cs)"
elif timeout 120 cargo deny --locked check advisories >"$advisories_log" 2>&1; then
    cat "$advisories_log"
elif grep -qiE "fetch|network|resolve|connect|timed out" "$advisories_log"; then
    echo "advisories: NOT CHECKED — the RustSec database could not be fetched from here:"
    grep -iE "fetch|network|resolve|connect|timed out" "$advisories_log" | head -n 3
else
    cat "$advisories_log"
    exit 1
fi

ensure_web_modules
npm_log="$(mktemp)"
if (cd web && timeout 120 npm audit --omit=dev) >"$npm_log" 2>&1; then
    cat "$npm_log"
elif grep -qE "audit endpoint returned an error|ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN" "$npm_log"; then
    echo "npm audit: NOT CHECKED — the registry's audit endpoint could not be reached from here:"
    grep -E "npm (warn|error)" "$npm_log" | head -n 2
else
    cat "$npm_log"
    rm -f "$npm_log"
    exit 1
fi
rm -f "$npm_log"
