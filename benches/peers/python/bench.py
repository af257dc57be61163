"""Python peer: aiohttp (bare) and aiohttp + aiolimiter, on the default asyncio loop,
and rlc's Python binding (bindings/python) in the same loops.

    python bench.py bare      URL REQUESTS CONCURRENCY [MAX_SECS]
    python bench.py limited   URL REQUESTS CONCURRENCY [MAX_SECS]  # aiolimiter far above the load
    python bench.py precision URL RATE SECS CONCURRENCY  # aiolimiter at RATE/s, burst 1
    python bench.py binding   URL REQUESTS CONCURRENCY [MAX_SECS]  # rlc, workers = CONCURRENCY
    python bench.py binding-precision URL RATE SECS CONCURRENCY  # rlc at RATE/s, burst 1

The binding is imported from bindings/python (or $RLC_PYTHON_BINDING) and loads
librlc from $RLC_LIBRARY_PATH; only its modes need it.

Throughput modes stop after REQUESTS or MAX_SECS (default 5), whichever comes first,
and print one JSON line; precision mode sends RATE x SECS + 0.3 s worth
of requests through the limiter (the counter server at URL records arrival times,
judged afterwards by rlc-bench-precision --analyse).
"""

import asyncio
import json
import os
import sys
import time

import aiohttp
from aiolimiter import AsyncLimiter


def pct(sorted_values, q):
    if not sorted_values:
        return 0
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 1))))
    return sorted_values[rank - 1]


async def throughput(url, n, conc, limiter, max_secs):
    connector = aiohttp.TCPConnector(limit=conc, limit_per_host=conc)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Warm-up: one connection per worker.
        async def warm():
            async with session.get(url) as r:
                await r.read()

        await asyncio.gather(*(warm() for _ in range(conc)))
        latencies = []
        counts = {"ok": 0, "errors": 0, "next": 0}

        deadline = time.perf_counter() + max_secs

        async def worker():
            while counts["next"] < n and time.perf_counter() < deadline:
                counts["next"] += 1
                t = time.perf_counter_ns()
                try:
                    if limiter is not None:
                        async with limiter:
                            async with session.get(url) as r:
                                await r.read()
                                good = r.status == 200
                    else:
                        async with session.get(url) as r:
                            await r.read()
                            good = r.status == 200
                except aiohttp.ClientError:
                    good = False
                latencies.append(time.perf_counter_ns() - t)
                counts["ok" if good else "errors"] += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        secs = time.perf_counter() - start
    latencies.sort()
    return secs, counts["ok"], counts["errors"], latencies


def load_binding():
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.environ.get("RLC_PYTHON_BINDING", os.path.join(here, "..", "..", "..", "bindings", "python")))
    import rlc

    return rlc


async def binding_throughput(url, n, conc, max_secs):
    """rlc with `conc` workers (requests in flight), fed by 4x as many coroutines so
    its queue never runs dry, as the Node and Rust runs do."""
    rlc = load_binding()
    async with rlc.AsyncClient(base_url=url, workers=conc, max_queue_size=n + 1024) as client:
        await asyncio.gather(*(client.get("/") for _ in range(conc)))  # warm-up: the connections
        latencies = []
        counts = {"ok": 0, "errors": 0, "next": 0}
        deadline = time.perf_counter() + max_secs

        async def caller():
            while counts["next"] < n and time.perf_counter() < deadline:
                counts["next"] += 1
                t = time.perf_counter_ns()
                try:
                    good = (await client.get("/")).status == 200
                except rlc.RlcError:
                    good = False
                latencies.append(time.perf_counter_ns() - t)
                counts["ok" if good else "errors"] += 1

        start = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(conc * 4)))
        secs = time.perf_counter() - start
    latencies.sort()
    return secs, counts["ok"], counts["errors"], latencies, f"rlc {rlc.version()} Python binding"


async def binding_precision(url, rate, secs, conc):
    """Every request submitted at once; rlc's limiter (burst 1) spaces them."""
    rlc = load_binding()
    total = 1 + int(rate * secs) + max(20, int(rate * 0.3))
    async with rlc.AsyncClient(
        base_url=url, workers=conc, max_queue_size=total + 16, rate_limit=rlc.RateLimit(rate, per=1.0, burst=1)
    ) as client:
        await asyncio.gather(*(client.get("/p") for _ in range(total)))


async def precision(url, rate, secs, conc):
    limiter = AsyncLimiter(1, 1.0 / rate)  # one per 1/rate s: the burst-1 setting
    total = 1 + int(rate * secs) + max(20, int(rate * 0.3))
    connector = aiohttp.TCPConnector(limit=conc, limit_per_host=conc)
    async with aiohttp.ClientSession(connector=connector) as session:
        left = {"n": total}

        async def worker():
            while left["n"] > 0:
                left["n"] -= 1
                async with limiter:
                    async with session.get(url + "/p") as r:
                        await r.read()

        await asyncio.gather(*(worker() for _ in range(conc)))


def main():
    mode, url = sys.argv[1], sys.argv[2].rstrip("/")
    if mode in ("bare", "limited", "binding"):
        n, conc = int(sys.argv[3]), int(sys.argv[4])
        max_secs = float(sys.argv[5]) if len(sys.argv) > 5 else 5.0
        version = f"aiohttp {aiohttp.__version__}, Python {sys.version.split()[0]}"
        if mode == "binding":
            secs, ok, errors, lat, what = asyncio.run(binding_throughput(url, n, conc, max_secs))
            name, version = "python-rlc-binding", f"{what}, Python {sys.version.split()[0]}"
        else:
            limiter = AsyncLimiter(10**9, 1) if mode == "limited" else None
            secs, ok, errors, lat = asyncio.run(throughput(url + "/", n, conc, limiter, max_secs))
            name = "python-aiohttp" if mode == "bare" else "python-aiohttp+aiolimiter"
        rps = ok / secs
        print(f"peer {name:>28} conc {conc}: {rps:9.0f} req/s, errors {errors}", file=sys.stderr)
        print(json.dumps({
            "bench": "peer_throughput", "impl": name, "runtime": "python", "concurrency": conc,
            "requests": ok + errors, "ok": ok, "errors": errors, "secs": secs, "rps": rps,
            "p50_us": pct(lat, 0.5) / 1e3, "p99_us": pct(lat, 0.99) / 1e3,
            "version": version,
            "loadavg": os.getloadavg()[0],
        }), flush=True)
    elif mode in ("precision", "binding-precision"):
        rate, secs, conc = int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
        run = precision if mode == "precision" else binding_precision
        asyncio.run(run(url, rate, secs, conc))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
