#!/bin/sh
# One 10-second hold→release churn run of `coworkctl serve` on PostgreSQL, on a fresh schema, for the
# layout given: coworkctl (its own tables, demo catalog) or coworking-mio (the backend's tables,
# loaded from the mio store's test fixture, then coworkctl db install). Writes the load report's JSON
# to $OUT (default /tmp/load-LAYOUT-RUN.json).
#
#   go build -o /tmp/cw ./cmd/coworkctl
#   for r in 1 2 3; do CW=/tmp/cw bench/mio-holds.sh coworkctl $r; CW=/tmp/cw bench/mio-holds.sh coworking-mio $r; done
set -e
L=$1 R=$2
CW=${CW:-coworkctl}
PG=${PG:-'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'}
OUT=${OUT:-/tmp/load-$L-$R.json}
S=$(echo "bench_${L}_$R" | tr - _)
psql -q "$PG" -c "DROP SCHEMA IF EXISTS $S CASCADE; DROP SCHEMA IF EXISTS ${S}_own CASCADE; CREATE SCHEMA $S"
DB="$PG&search_path=$S"
if [ "$L" = coworking-mio ]; then
	PGOPTIONS="-c search_path=$S" psql -q "$PG" -f "$(dirname "$0")/../internal/store/mio/testdata/backend.sql" >/dev/null
	"$CW" db install --db "$DB" --db-layout coworking-mio --db-own-schema "${S}_own" >/dev/null
	set -- --db-layout coworking-mio --db-own-schema "${S}_own"
else
	set -- --demo
fi
"$CW" serve --addr 127.0.0.1:29431 --jwt-secret bench-secret --db "$DB" "$@" --tz UTC \
	--log-level error --max-holds-per-user 0 &
SP=$!
sleep 2
# Users 1–16 exist in the fixture's Utente; the fixture has 3 spazi, so 3 rooms on both layouts.
"$CW" emit load --server http://127.0.0.1:29431 --jwt-secret bench-secret --user-base 1 \
	--clients 16 --rooms 3 --rate 0 --churn 2000 --duration 10s --json --no-progress >"$OUT" || true
kill $SP
wait $SP || true
psql -q "$PG" -c "DROP SCHEMA IF EXISTS $S CASCADE; DROP SCHEMA IF EXISTS ${S}_own CASCADE"
