#!/usr/bin/env bash
# What a province's database weighs on disk: 1 000 000 sites from the shared map recipe
# (../shared/bench/sites-1m.sql, as `benches/tiles.rs` loads it) in a scratch database, and the demo dataset's
# observations, photos and events per row, for docs/deploy.md. Prints each table's heap, its indexes and the
# WAL written while loading. Needs DATABASE_URL of a server holding no database named `province_size` or
# `province_demo` (they are dropped and made again), and a debug build of roadledger.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${SHARED_BENCH:-../shared/bench}"
base="${DATABASE_URL:?set DATABASE_URL}"
roadledger="${CARGO_TARGET_DIR:-target}/debug/roadledger"
url_of() { echo "${base/localhost\/roadledger/localhost/$1}"; }

sizes() {
    psql "$1" -X -q -A -F ' | ' -t -c "
        select relname, n_live_tup, pg_size_pretty(pg_relation_size(relid)),
               pg_size_pretty(pg_indexes_size(relid)), pg_size_pretty(pg_total_relation_size(relid)),
               case when n_live_tup > 0 then pg_total_relation_size(relid) / n_live_tup end
        from pg_stat_user_tables where relname = any(string_to_array('$2', ','))
        order by pg_total_relation_size(relid) desc"
}

for db in province_size province_demo; do
    psql "$base" -X -q -c "drop database if exists $db" -c "create database $db"
done

echo "== 1 000 000 sites (table | rows | heap | indexes | total | bytes per row)"
url="$(url_of province_size)"
DATABASE_URL="$url" cargo sqlx migrate run --source migrations >/dev/null
before="$(psql "$url" -X -A -t -c 'select pg_current_wal_lsn()')"
start=$(date +%s)
psql "$url" -X -q -c "create schema recipe; create table recipe.site ()"
PGOPTIONS="-c search_path=recipe,public" psql "$url" -X -q -v ON_ERROR_STOP=1 -o /dev/null -f "$shared/sites-1m.sql"
psql "$url" -X -q -v ON_ERROR_STOP=1 -f benches/recipe_into_site.sql -c "select site_cell_compact()"
psql "$url" -X -q -c "vacuum analyze"
echo "loaded in $(( $(date +%s) - start )) s; WAL written: $(psql "$url" -X -A -t -c "select pg_size_pretty(pg_current_wal_lsn() - '$before')")"
sizes "$url" site,site_cell,map_change,town,road
psql "$url" -X -A -t -c "select 'database: ' || pg_size_pretty(pg_database_size(current_database()))"

echo "== the demo dataset (table | rows | heap | indexes | total | bytes per row)"
url="$(url_of province_demo)"
dir="$(mktemp -d)"
chmod 755 "$dir"
"$roadledger" serve --demo --listen 127.0.0.1:0 --data-dir "$dir" --database-url "$url" 2>"$dir/log" &
pid=$!
until grep -q "serving on" "$dir/log"; do sleep 1; kill -0 "$pid"; done
kill -TERM "$pid"
wait "$pid" || true
psql "$url" -X -q -c "vacuum analyze"
sizes "$url" site,observation,photo,site_event,checklist_item,site_cell,map_change
echo "photo files: $(find "$dir/photos" -type f | wc -l), $(du -sb "$dir/photos" | cut -f1) bytes"
echo "originals: $(find "$dir/photos/original" -type f | wc -l), $(du -sb "$dir/photos/original" | cut -f1) bytes"
echo "thumbnails: $(find "$dir/photos/thumbnail" -type f | wc -l), $(du -sb "$dir/photos/thumbnail" | cut -f1) bytes"
rm -rf "$dir"
