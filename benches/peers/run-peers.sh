#!/usr/bin/env bash
# The peer comparison, called by benches/run.sh (which starts nginx and the counter
# server). Each runtime's part is skipped, with a note in the results, when its
# toolchain or its binding is missing.
#
#   run-peers.sh --root DIR --out RESULTS.jsonl --url NGINX_URL --counter COUNTER_URL
#                --requests N --concurrency C --secs S --rates 200,2000 --target TARGET_DIR
#                [--reps 3] [--precision 1|0] [--cabi PATH_TO_rlc-bench-cabi]
#                [--runtimes python,node,go,rust]
#
# Throughput: N GETs of nginx at concurrency C (C requests in flight) for each runtime's
# bare client, its client behind its usual limiter (set so it never binds), rlc's
# binding, and rlc through the C ABI and the Rust API (C workers). Runs alternate,
# REPS times. Precision: S seconds at each rate through each limiter set to burst 1
# (or its nearest equivalent), judged on the counter server's arrival times.
set -euo pipefail

REPS=3
CABI=""
PRECISION=1
RUNTIMES=python,node,go,rust
while [ $# -gt 0 ]; do
	case "$1" in
	--root) ROOT=$2 ;;
	--out) OUT=$2 ;;
	--url) URL=$2 ;;
	--counter) COUNTER=$2 ;;
	--requests) N=$2 ;;
	--concurrency) C=$2 ;;
	--secs) SECS=$2 ;;
	--rates) RATES=${2//,/ } ;;
	--target) TARGET=$2 ;;
	--reps) REPS=$2 ;;
	--cabi) CABI=$2 ;;
	--precision) PRECISION=$2 ;;
	--runtimes) RUNTIMES=$2 ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
	shift 2
done
PEERS=$ROOT/benches/peers
BIN=$TARGET/release
WORKDIR=$TARGET/bench
mkdir -p "$WORKDIR"

note() {
	python3 -c 'import json,sys; print(json.dumps({"bench":"note","kind":sys.argv[1],"text":sys.argv[2]}))' "$1" "$2" >>"$OUT"
	echo "note: $2" >&2
}
analyse() { # analyse IMPL RATE: judge what the counter server recorded
	"$BIN/rlc-bench-precision" --analyse "$1" --counter "$COUNTER" --rates "$2" --secs "$SECS" \
		--burst 1 --case burst1 --concurrency "$C" >>"$OUT"
}
wanted() { [[ ",$RUNTIMES," == *",$1,"* ]]; }
clear_counter() { curl -fsS "$COUNTER/__take" >/dev/null 2>&1 || python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1]+'/__take').read()" "$COUNTER"; }

# ---------------------------------------------------------------- set-up
PY="" PY_BINDING=0 GO_PEER="" NODE_OK=0 NODE_BINDING=0 GO_BINDING=""
if wanted python && python3 -c 'import venv' 2>/dev/null; then
	VENV=$WORKDIR/venv
	if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$PEERS/python/requirements.txt" "$VENV/requirements.txt"; then
		echo "installing the Python peer's requirements into $VENV" >&2
		rm -rf "$VENV"
		python3 -m venv "$VENV" &&
			"$VENV/bin/pip" install -q --disable-pip-version-check -r "$PEERS/python/requirements.txt" >&2 &&
			cp "$PEERS/python/requirements.txt" "$VENV/requirements.txt"
	fi
	[ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import aiohttp, aiolimiter' && PY=$VENV/bin/python
fi
if [ -n "$PY" ]; then
	if [ -f "$ROOT/bindings/python/rlc/__init__.py" ]; then
		PY_BINDING=1
		export RLC_PYTHON_BINDING=$ROOT/bindings/python
	else
		note missing "Python binding not measured: bindings/python is not on this branch yet."
	fi
elif wanted python; then
	note missing "Python peer skipped: python3 with venv and pip (PyPI) is needed."
fi

if wanted go && command -v go >/dev/null; then
	echo "building the Go peer" >&2
	if (cd "$PEERS/go" && go build -o "$WORKDIR/peer-go" .) >&2; then GO_PEER=$WORKDIR/peer-go; fi
	if [ -f "$ROOT/bindings/go/go.mod" ]; then
		echo "building the Go binding's bench program" >&2
		if (cd "$PEERS/go/binding" && CGO_LDFLAGS="-L$WORKDIR/lib -Wl,-rpath,$WORKDIR/lib" go build -o "$WORKDIR/peer-go-binding" .) >&2; then
			GO_BINDING=$WORKDIR/peer-go-binding
		else
			note missing "Go binding bench did not build (see the log)."
		fi
	else
		note missing "Go binding not measured: bindings/go is not on this branch yet."
	fi
fi
[ -n "$GO_PEER" ] || ! wanted go || note missing "Go peer skipped: go is needed."

if wanted node && command -v node >/dev/null && command -v npm >/dev/null; then
	if (cd "$PEERS/node" && { [ -d node_modules/bottleneck ] || npm ci --no-audit --no-fund --loglevel=error; }) >&2; then
		NODE_OK=1
	fi
	if [ -f "$ROOT/bindings/node/package.json" ]; then
		if (cd "$ROOT/bindings/node" && { [ -d node_modules/koffi ] || npm ci --no-audit --no-fund --loglevel=error; }) >&2; then
			NODE_BINDING=1
		else
			note missing "Node binding: npm ci in bindings/node failed."
		fi
	else
		note missing "Node binding not measured: bindings/node is not on this branch yet."
	fi
fi
[ "$NODE_OK" = 1 ] || ! wanted node || note missing "Node peer skipped: node and npm are needed."
export RLC_LIBRARY_PATH=$BIN/librlc.so

# ---------------------------------------------------------------- throughput
try() { # try CMD...: run it; a failure becomes a note, not the end of the run
	"$@" || note failed "failed: $*"
}
as_peer() { # rewrite an rlc overhead line into a peer_throughput line
	sed -e "s/\"bench\":\"overhead\",\"impl\":\"[a-z]*\"/\"bench\":\"peer_throughput\",\"impl\":\"$1\",\"runtime\":\"$2\",\"concurrency\":$C/"
}
for rep in $(seq 1 "$REPS"); do
	echo "peer throughput, repetition $rep of $REPS" >&2
	if [ -n "$PY" ]; then try "$PY" "$PEERS/python/bench.py" bare "$URL" "$N" "$C" >>"$OUT"; fi
	if [ -n "$CABI" ]; then try "$CABI" overhead "$URL" "$N" "$C" "$rep" | as_peer rlc-cabi c >>"$OUT"; fi
	if [ -n "$PY" ]; then try "$PY" "$PEERS/python/bench.py" limited "$URL" "$N" "$C" >>"$OUT"; fi
	if [ "$PY_BINDING" = 1 ]; then try "$PY" "$PEERS/python/bench.py" binding "$URL" "$N" "$C" >>"$OUT"; fi
	if [ "$NODE_OK" = 1 ]; then try node "$PEERS/node/bench.mjs" bare "$URL" "$N" "$C" >>"$OUT"; fi
	if [ "$NODE_BINDING" = 1 ]; then try node "$PEERS/node/bench.mjs" binding "$URL" "$N" "$C" >>"$OUT"; fi
	if [ "$NODE_OK" = 1 ]; then try node "$PEERS/node/bench.mjs" limited "$URL" "$N" "$C" >>"$OUT"; fi
	if [ -n "$GO_PEER" ]; then try "$GO_PEER" bare "$URL" "$N" "$C" >>"$OUT"; fi
	if [ -n "$GO_BINDING" ]; then try "$GO_BINDING" binding "$URL" "$N" "$C" >>"$OUT"; fi
	if [ -n "$GO_PEER" ]; then try "$GO_PEER" limited "$URL" "$N" "$C" >>"$OUT"; fi
	if wanted rust; then
		try "$BIN/rlc-bench-overhead" --url "$URL/" --requests "$N" --threads "$C" --reps 1 --rep-index "$rep" \
			--impls rlc | as_peer rlc-rust rust >>"$OUT"
	fi
done

# ---------------------------------------------------------------- precision
precision() { # precision IMPL RATE CMD...: clear the counter, send, judge
	local impl=$1 rate=$2
	shift 2
	clear_counter
	if "$@"; then analyse "$impl" "$rate"; else note failed "failed: $*"; fi
}
[ "$PRECISION" = 1 ] || RATES=""
for r in $RATES; do
	echo "peer precision at $r/s for ${SECS}s" >&2
	if [ -n "$PY" ]; then precision python-aiolimiter "$r" "$PY" "$PEERS/python/bench.py" precision "$COUNTER" "$r" "$SECS" "$C"; fi
	if [ "$PY_BINDING" = 1 ]; then precision python-rlc-binding "$r" "$PY" "$PEERS/python/bench.py" binding-precision "$COUNTER" "$r" "$SECS" "$C"; fi
	if [ "$NODE_OK" = 1 ]; then precision node-bottleneck "$r" node "$PEERS/node/bench.mjs" precision "$COUNTER" "$r" "$SECS" "$C"; fi
	if [ "$NODE_BINDING" = 1 ]; then precision node-rlc-binding "$r" node "$PEERS/node/bench.mjs" binding-precision "$COUNTER" "$r" "$SECS" "$C"; fi
	if [ -n "$GO_PEER" ]; then precision go-x/time/rate "$r" "$GO_PEER" precision "$COUNTER" "$r" "$SECS" "$C"; fi
	if [ -n "$GO_BINDING" ]; then precision go-rlc-binding "$r" "$GO_BINDING" precision "$COUNTER" "$r" "$SECS" "$C"; fi
	if [ -n "$CABI" ]; then precision rlc-cabi "$r" "$CABI" precision "$COUNTER" "$r" "$SECS" 1 "$C"; fi
	# rlc's Rust API again, in the same conditions as the peers (it judges itself).
	wanted rust || continue
	clear_counter
	try "$BIN/rlc-bench-precision" --counter "$COUNTER" --secs "$SECS" --rates "$r" --cases burst1 \
		--workers "$C" --impl rlc-rust >>"$OUT"
done
exit 0
