#!/usr/bin/env bash
# WAL written per upload, for docs/deploy.md (the standby replays it, the archive keeps it): `roadledger serve`
# on a scratch database, N uploads without photos each opening a new site 190 m from the last (the heaviest
# path: road match, site with its grid counts and change log, checklist, observation, event), one after
# another, after a checkpoint so the first write to each page carries its full-page image, as in production.
# Needs DATABASE_URL of a server holding no database named `upload_wal` (it is dropped and made again).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${UPLOADS:-1000}"
base="${DATABASE_URL:?set DATABASE_URL}"
roadledger="${CARGO_TARGET_DIR:-target}/debug/roadledger"
url="${base/localhost\/roadledger/localhost/upload_wal}"
psql "$base" -X -q -c "drop database if exists upload_wal" -c "create database upload_wal"

dir="$(mktemp -d)"
chmod 755 "$dir"
"$roadledger" serve --listen 127.0.0.1:0 --data-dir "$dir" --database-url "$url" 2>"$dir/log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
until grep -qs "serving on" "$dir/log"; do sleep 1; kill -0 "$pid"; done
address="$(grep -o 'serving on http://[^/]*' "$dir/log" | sed 's/serving on //')"

org="$(DATABASE_URL="$url" "$roadledger" org list | awk -F'\t' '$2 == "city_office" {print $1; exit}')"
echo "a long enough password" | DATABASE_URL="$url" "$roadledger" user add --name wal --display-name WAL \
    --role inspector --org "$org" --password-stdin >/dev/null
token="$(DATABASE_URL="$url" "$roadledger" token create --user wal)"

psql "$url" -X -q -c "checkpoint"
before="$(psql "$url" -X -A -t -c 'select pg_current_wal_lsn()')"
start=$(date +%s.%N)
for i in $(seq 0 $((n - 1))); do
    lon="$(awk -v i="$i" 'BEGIN { printf "%.6f", 120.30 + (i % 100) * 0.002 }')"
    lat="$(awk -v i="$i" 'BEGIN { printf "%.6f", 31.76 + int(i / 100) * 0.002 }')"
    observation="{\"id\":\"$(cat /proc/sys/kernel/random/uuid)\",\"kind\":\"spot\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[$lon,$lat]},\"accuracy_m\":6.5,\"observed_at\":\"2026-11-30T09:15:00+08:00\",\"hazard_types\":[],\"checklist\":{},\"notes\":\"\"}"
    status="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
        -F "observation=$observation;type=application/json" "$address/api/v1/observations")"
    [ "$status" = 201 ] || { echo "upload $i answered $status" >&2; exit 1; }
done
elapsed="$(echo "$(date +%s.%N) - $start" | bc)"
psql "$url" -X -A -t -c "
    select format('%s uploads, %s sites in %s s; WAL written: %s, %s bytes an upload',
                  $n, (select count(*) from site), round($elapsed, 1),
                  pg_size_pretty(pg_current_wal_lsn() - '$before'),
                  round((pg_current_wal_lsn() - '$before') / $n))"
kill "$pid"
wait "$pid" || true
psql "$base" -X -q -c "drop database upload_wal"
