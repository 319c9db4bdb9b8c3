#!/usr/bin/env bash
# County data import at province scale: `roadledger import roads` on a large OSM PBF, against osm2pgsql
# importing the same file in the same run, then the same import again (it must change nothing).
#
# Usage: benches/import.sh [FILE.osm.pbf]
#   Without FILE, generates target/bench-data/province-$WAYS.osm.pbf with benches/osm_gen.py
#   (WAYS road ways, default 2 000 000; WAYS=20000 for a quick run).
#   DATABASE_URL: any database on the server to use (default: the dev cluster's socket below); the bench
#   creates and drops its own databases there (bench_import_roadledger, bench_import_osm2pgsql).
#   Needs osmium-tool and osm2pgsql (apt-get install osmium-tool osm2pgsql), and a release build:
#   cargo build --release --bin roadledger  (with CARGO_TARGET_DIR if you use one; BIN= overrides).
#
# Each tool runs under /usr/bin/time -v: wall time and peak RSS of the tool's own process. The database
# server's memory and work are not in the RSS figures of either tool.
set -euo pipefail
export PGOPTIONS='--client-min-messages=warning'
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
bin=${BIN:-$target/release/roadledger}
url=${DATABASE_URL:-postgres://roadledger@localhost/roadledger?host=/tmp/roadledger-d663ebb716b8}
county=320582

file=${1:-}
if [[ -z $file ]]; then
  ways=${WAYS:-2000000}
  file=$target/bench-data/province-$ways.osm.pbf
  if [[ ! -f $file ]]; then
    mkdir -p "$target/bench-data"
    echo "generating $file ($ways road ways) …" >&2
    /usr/bin/time -f 'generated in %e s' python3 benches/osm_gen.py "$file" --ways "$ways"
  fi
fi
[[ -x $bin ]] || { echo "no $bin: cargo build --release --bin roadledger" >&2; exit 1; }
command -v osm2pgsql >/dev/null || { echo "osm2pgsql is missing: apt-get install osm2pgsql" >&2; exit 1; }

# A database URL with another database name (the path before any ?query).
db_url() { python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$url" "$1"; }
fresh_db() {
  psql -q "$url" -c "drop database if exists $1" -c "create database $1"
  db_url "$1"
}
ours=$(fresh_db bench_import_roadledger)
theirs=$(fresh_db bench_import_osm2pgsql)
psql -q "$theirs" -c 'create extension if not exists postgis'

bytes=$(stat -c %s "$file")
echo "file: $file, $(numfmt --to=iec-i --suffix=B "$bytes") ($bytes bytes)"
osmium fileinfo -e -j "$file" | python3 -c 'import json, sys; c = json.load(sys.stdin)["data"]["count"]; print("nodes:", c["nodes"], "ways:", c["ways"])'
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# Runs a command under /usr/bin/time -v; leaves the wall seconds and peak RSS (KiB) in $wall and $rss.
timed() {
  local name=$1
  shift
  /usr/bin/time -v -o "$log/$name.time" "$@" >"$log/$name.out" 2>"$log/$name.err" || {
    echo "$name failed:" >&2
    tail -n 30 "$log/$name.err" "$log/$name.out" >&2
    exit 1
  }
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$log/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log/$name.time")
}

# The migrations run before the timed import (every roadledger command migrates first).
DATABASE_URL=$ours "$bin" org list >/dev/null

rows=()
report() { # name features stored wall rss note
  local per_s mb_s
  per_s=$(awk -v f="$2" -v w="$4" 'BEGIN {printf "%.0f", f / w}')
  mb_s=$(awk -v b="$bytes" -v w="$4" 'BEGIN {printf "%.1f", b / 1048576 / w}')
  rows+=("| $1 | $2 | $3 | $4 | $per_s | $mb_s | $(awk -v k="$5" 'BEGIN {printf "%.0f", k / 1024}') | $6 |")
  echo "${rows[-1]}"
}
echo "| what | features read | rows stored | wall s | features/s | MB/s | peak RSS MiB | note |"
echo "|---|---|---|---|---|---|---|---|"

field() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r[sys.argv[2]])' "$1" "$2"; }

timed ours env DATABASE_URL="$ours" "$bin" import roads "$file" --county $county --json
read_n=$(field "$log/ours.out" features_read)
inserted=$(field "$log/ours.out" inserted)
stored=$(psql -Atq "$ours" -c 'select count(*) from road')
report '`roadledger import roads` (fresh database)' "$read_n" "$stored" "$wall" "$rss" \
  "inserted $inserted; import report: $(field "$log/ours.out" elapsed_ms) ms"
ours_wall=$wall

timed again env DATABASE_URL="$ours" "$bin" import roads "$file" --county $county --json
report '`roadledger import roads` again (same file)' "$(field "$log/again.out" features_read)" \
  "$(psql -Atq "$ours" -c 'select count(*) from road')" "$wall" "$rss" \
  "inserted $(field "$log/again.out" inserted), updated $(field "$log/again.out" updated), unchanged $(field "$log/again.out" unchanged)"

timed osm2pgsql osm2pgsql --create --output=flex --style=benches/osm2pgsql-roads.lua --number-processes "$(nproc)" \
  --cache 2000 -d "$theirs" "$file"
theirs_n=$(psql -Atq "$theirs" -c 'select count(*) from osm_road')
report 'baseline: `osm2pgsql --create` flex, highway ways only (non-slim, -C 2000)' "$theirs_n" "$theirs_n" "$wall" "$rss" \
  "no checks, no grouping, no diff"

echo
echo "roadledger / osm2pgsql wall time: $(awk -v a="$ours_wall" -v b="$wall" 'BEGIN {printf "%.2f", a / b}')"
echo "table sizes: road $(psql -Atq "$ours" -c "select pg_size_pretty(pg_total_relation_size('road'))"), \
osm_road $(psql -Atq "$theirs" -c "select pg_size_pretty(pg_total_relation_size('osm_road'))")"
echo "coded routes: $(psql -Atq "$ours" -c 'select count(*) from road where route_code is not null') roads from \
$(psql -Atq "$theirs" -c 'select count(*) from osm_road where ref is not null') ways with a ref"
echo "warnings: $(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["warnings"])' "$log/ours.out")"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -z ${KEEP:-} ]]; then
  psql -q "$url" -c 'drop database bench_import_roadledger' -c 'drop database bench_import_osm2pgsql'
fi
