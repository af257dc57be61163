#!/usr/bin/env bash
# Runs each example program once against a fresh mock API on a free port, so that
# `make examples` (and so `make test`) notices an example that no longer works.
#
#   examples/run.sh path/to/rlc-mock-api program...
#
# Each program gets the mock API's base URL as argv[1]; the first failure stops it.
set -euo pipefail

mock=$1
shift
log=$(mktemp)
"$mock" --port 0 >"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"' EXIT

# The mock API prints one line, "listening on http://127.0.0.1:PORT", once it listens.
url=
for _ in $(seq 100); do
    if [ "$(tail -c 1 "$log")" = "" ] && [ -s "$log" ]; then # a whole line
        url=$(sed -n 's/^listening on //p' "$log")
        break
    fi
    kill -0 "$pid" 2>/dev/null || { echo "run.sh: $mock exited" >&2; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { echo "run.sh: $mock did not say where it listens" >&2; exit 1; }

for program in "$@"; do
    echo "== $program $url"
    "$program" "$url"
done
