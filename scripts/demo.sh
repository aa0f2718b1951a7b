#!/bin/sh
# make demo: create the example project, run it, show some gold rows.
set -eu
cd "$(dirname "$0")/.."
SMELT=$(pwd)/build/smelt
rm -rf shop
"$SMELT" init shop
echo
echo "\$ cd shop && smelt run"
(cd shop && "$SMELT" run --format table) || true
echo
echo "\$ smelt query \"SELECT * FROM gold.daily_sales ORDER BY day DESC, store_id LIMIT 7\""
"$SMELT" -C shop query --format table "SELECT * FROM gold.daily_sales ORDER BY day DESC, store_id LIMIT 7"
echo
echo "\$ smelt query \"SELECT error_type, count(*) FROM quarantine.orders GROUP BY ALL\""
"$SMELT" -C shop query --format table "SELECT error_type, count(*) AS n FROM quarantine.orders GROUP BY ALL ORDER BY n DESC"
echo
echo "the project is in ./shop: try 'cd shop && ../build/smelt run' again (nothing to do)"
