#!/usr/bin/env bash
# rlc's benchmark suite, side by side with raw ureq and with peers in other languages.
#
#   benches/run.sh full    # `make bench`: everything; writes benches/RESULTS.md (< 15 min)
#   benches/run.sh quick   # `make bench-quick`: a ~60 s subset; writes
#                          # $TARGET/bench/RESULTS-quick.md and leaves RESULTS.md alone
#   benches/run.sh python  # `make bench-python`: only the Python peers, rlc's Python
#                          # binding and, as its ceiling, rlc's C ABI (~2 min); writes
#                          # $TARGET/bench/RESULTS-python.md
#
# Needs: cargo, a C compiler, nginx (installed with apt-get when missing and run as
# root; otherwise it says how), python3. Optional: node/npm, go, and the bindings
# (bindings/node, bindings/go) and the C ABI (include/rlc.h): a part whose pieces are
# missing is skipped and RESULTS.md says so.
#
# It starts its own nginx (one worker, access_log off, `return 200 "ok"`) and its own
# timestamping counter server, each on a free port of 127.0.0.1, and stops both by
# PID at the end, also on failure or Ctrl-C.
set -euo pipefail

MODE=${1:-full}
case "$MODE" in full | quick | python) ;; *) echo "usage: $0 [full|quick|python]" >&2; exit 2 ;; esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/benches
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release
OUTDIR=$TARGET/bench
mkdir -p "$OUTDIR"
WORK=$(mktemp -d /tmp/rlc-bench.XXXXXX)
RESULTS=$OUTDIR/results-$MODE.jsonl
: >"$RESULTS"
STARTED=$(date +%s)

# PIDS, cleanup on exit, log, note, free_port, wait_port, start_nginx.
source "$BENCH/common.sh"

PEER_RUNTIMES=python,node,go,rust
RATES="200 2000"
if [ "$MODE" = python ]; then
	PREC_SECS=10 PEER_N=10000 PEER_REPS=3 PEER_PRECISION=1 PEER_RUNTIMES=python RATES=200
elif [ "$MODE" = full ]; then
	OVERHEAD_N=50000 REPS=3 THREADS="1 4 8 16" PREC_SECS=10 PREC_CASES=burst1,burst,strict
	QUEUE_N=1000000 SUBMIT_N=1000000 DISPATCH_N=5000 LIMITER_ITERS=5000000
	PEER_N=10000 PEER_REPS=3 PEER_PRECISION=1
else
	OVERHEAD_N=10000 REPS=1 THREADS="1 16" PREC_SECS=3 PREC_CASES=burst1,strict
	QUEUE_N=1000000 SUBMIT_N=300000 DISPATCH_N=1000 LIMITER_ITERS=2000000
	PEER_N=3000 PEER_REPS=1 PEER_PRECISION=0
fi
PEER_CONC=16

# ---------------------------------------------------------------- build
CARGO=${CARGO:-cargo}
if [ "$MODE" = python ]; then
	log "build (cargo build --release -p rlc --lib -p rlc-bench --bin rlc-bench-counter --bin rlc-bench-precision)"
	(cd "$ROOT" && $CARGO build --release -p rlc --lib -p rlc-bench --bin rlc-bench-counter --bin rlc-bench-precision) >&2
else
	log "build (cargo build --release -p rlc --lib -p rlc-bench --bins; cc benches/c/cabi.c)"
	(cd "$ROOT" && $CARGO build --release -p rlc --lib -p rlc-bench --bins) >&2
fi
# librlc.so carries the soname librlc.so.0: programs linked to it look for that name,
# so give them a directory where it exists.
LIBDIR=$OUTDIR/lib
mkdir -p "$LIBDIR"
ln -sf "$BIN/librlc.so" "$LIBDIR/librlc.so.0"
ln -sf "$BIN/librlc.so" "$LIBDIR/librlc.so"
HAVE_CABI=0
if [ -f "$ROOT/include/rlc.h" ] && grep -q 'rlc_submit' "$ROOT/include/rlc.h" && [ -f "$BIN/librlc.so" ]; then
	cc -O2 -std=c11 -Wall -Wextra -I"$ROOT/include" -o "$OUTDIR/rlc-bench-cabi" "$BENCH/c/cabi.c" \
		-L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lrlc -lpthread -lm >&2 && HAVE_CABI=1
fi
[ "$HAVE_CABI" = 1 ] || note missing "C ABI not measured: include/rlc.h with rlc_submit (or librlc.so) is not on this branch yet."

# ---------------------------------------------------------------- machine
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- src include 2>/dev/null || COMMIT="$COMMIT (src/ modified)"
python3 - "$MODE" "$COMMIT" >>"$RESULTS" <<'EOF'
import json, os, platform, subprocess, sys, datetime
cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip(); break
mhz = [l.split(":")[1].strip() for l in open("/proc/cpuinfo") if l.startswith("cpu MHz")]
def ver(cmd):
    try: return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
    except Exception: return "n/a"
print(json.dumps({
    "bench": "machine", "mode": sys.argv[1], "commit": sys.argv[2],
    "command": {"full": "make bench", "quick": "make bench-quick"}.get(sys.argv[1], f"make bench-{sys.argv[1]}"),
    "nproc": os.cpu_count(), "cpu": cpu, "mhz": mhz[0] if mhz else "n/a",
    "kernel": platform.release(), "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    "loadavg_start": open("/proc/loadavg").read().split()[:3],
    "rustc": ver(["rustc", "--version"]), "nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip() if subprocess.run(["sh","-c","command -v nginx"],capture_output=True).returncode==0 else "n/a",
    "node": ver(["node", "--version"]), "go": ver(["go", "version"]), "python": ver(["python3", "--version"]),
    "cc": ver(["cc", "--version"]),
}))
EOF

# ---------------------------------------------------------------- nginx
start_nginx # benches/common.sh: sets URL
log "nginx on $URL (pid ${PIDS[-1]})"

# ---------------------------------------------------------------- counter server
"$BIN/rlc-bench-counter" >"$WORK/counter.out" &
PIDS+=($!)
for _ in $(seq 100); do grep -q PORT "$WORK/counter.out" && break; sleep 0.1; done
COUNTER_PORT=$(awk '/PORT/ {print $2}' "$WORK/counter.out")
COUNTER="http://127.0.0.1:$COUNTER_PORT"
log "counter server on $COUNTER (pid ${PIDS[-1]})"

if [ "$MODE" != python ]; then
# ---------------------------------------------------------------- overhead
log "overhead: $OVERHEAD_N GETs, threads $THREADS, $REPS repetition(s): raw ureq / rlc / C ABI, each also with callbacks on workers"
for rep in $(seq 0 $((REPS - 1))); do
	for t in $THREADS; do
		"$BIN/rlc-bench-overhead" --url "$URL/" --requests "$OVERHEAD_N" --threads "$t" --reps 1 --rep-index "$rep" \
			--impls raw,rlc,rlc_inline >>"$RESULTS"
		if [ "$HAVE_CABI" = 1 ]; then
			"$OUTDIR/rlc-bench-cabi" overhead "$URL" "$OVERHEAD_N" "$t" "$rep" >>"$RESULTS"
			RLC_BENCH_CALLBACKS_ON_WORKERS=1 "$OUTDIR/rlc-bench-cabi" overhead "$URL" "$OVERHEAD_N" "$t" "$rep" >>"$RESULTS"
		fi
	done
done

# ---------------------------------------------------------------- precision
log "precision: ${PREC_SECS}s at $RATES /s"
"$BIN/rlc-bench-precision" --counter "$COUNTER" --secs "$PREC_SECS" --rates "${RATES// /,}" \
	--cases "$PREC_CASES" >>"$RESULTS"
if [ "$MODE" = full ]; then
	# The default pool (4 workers) at the higher rate: what a busy pool does to the rate.
	"$BIN/rlc-bench-precision" --counter "$COUNTER" --secs "$PREC_SECS" --rates 2000 --cases burst1 \
		--workers 4 --label burst1_4workers >>"$RESULTS"
fi

# ---------------------------------------------------------------- queue
log "queue: submit rate, memory per queued request, submit-to-dispatch, limiter cost"
# Memory first, in a process of its own: memory freed by earlier parts would be reused
# and hide what the queue costs.
"$BIN/rlc-bench-queue" --url "$URL" --only memory --queued "$QUEUE_N" >>"$RESULTS"
"$BIN/rlc-bench-queue" --url "$URL" --only limiter,submit,dispatch --submit "$SUBMIT_N" \
	--dispatch "$DISPATCH_N" --iters "$LIMITER_ITERS" --reps "$REPS" >>"$RESULTS"

fi # the parts skipped by the python mode

# ---------------------------------------------------------------- peers
PEERS_ARGS=(--root "$ROOT" --out "$RESULTS" --url "$URL" --counter "$COUNTER" --requests "$PEER_N"
	--concurrency "$PEER_CONC" --secs "$PREC_SECS" --rates "${RATES// /,}" --target "$TARGET"
	--reps "$PEER_REPS" --precision "$PEER_PRECISION" --runtimes "$PEER_RUNTIMES")
[ "$HAVE_CABI" = 1 ] && PEERS_ARGS+=(--cabi "$OUTDIR/rlc-bench-cabi")
log "peers ($PEER_RUNTIMES) at concurrency $PEER_CONC"
bash "$BENCH/peers/run-peers.sh" "${PEERS_ARGS[@]}" || note missing "the peer run failed part-way (see the log above)"

# ---------------------------------------------------------------- report
ELAPSED=$(($(date +%s) - STARTED))
python3 -c 'import json,sys; print(json.dumps({"bench":"elapsed","secs":int(sys.argv[1]),"loadavg_end":open("/proc/loadavg").read().split()[:3]}))' "$ELAPSED" >>"$RESULTS"
if [ "$MODE" = full ]; then REPORT=$BENCH/RESULTS.md; else REPORT=$OUTDIR/RESULTS-$MODE.md; fi
python3 "$BENCH/report.py" "$RESULTS" >"$REPORT"
log "done in ${ELAPSED}s: $REPORT (raw figures: $RESULTS)"
cat "$REPORT"
