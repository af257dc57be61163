// Node peer: fetch (bare, undici keep-alive) and fetch + Bottleneck; and, when the
// binding is there, rlc's Node binding (bindings/node) through the same loops.
//
//   node bench.mjs bare      URL REQUESTS CONCURRENCY [MAX_SECS]
//   node bench.mjs limited   URL REQUESTS CONCURRENCY [MAX_SECS]  # Bottleneck, maxConcurrent only
//   node bench.mjs binding   URL REQUESTS CONCURRENCY [MAX_SECS]  # rlc, workers = CONCURRENCY
//   node bench.mjs precision URL RATE SECS CONCURRENCY  # Bottleneck minTime 1000/RATE ms
//   node bench.mjs binding-precision URL RATE SECS CONCURRENCY  # rlc RATE/s, burst 1
//
// Throughput modes stop after REQUESTS or MAX_SECS (default 5), whichever comes first,
// and print one JSON line. Precision modes send RATE x SECS + 0.3 s worth
// of requests to the counter server at URL, which records the arrival times (judged
// afterwards by rlc-bench-precision --analyse).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import Bottleneck from 'bottleneck';

const here = path.dirname(fileURLToPath(import.meta.url));
const [mode, rawUrl, a, b, c] = process.argv.slice(2);
const url = (rawUrl || '').replace(/\/+$/, '');

async function get(u) {
  const r = await fetch(u);
  await r.arrayBuffer();
  return r.status === 200;
}

function pct(sorted, q) {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

function loadavg() {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

// The binding is loaded from the repository (bindings/node, its koffi installed by
// run-peers.sh), or from RLC_NODE_BINDING; librlc.so from RLC_LIBRARY_PATH.
async function loadBinding() {
  const dir = process.env.RLC_NODE_BINDING || path.resolve(here, '../../../bindings/node');
  const require = createRequire(path.join(dir, 'package.json'));
  const mod = require(dir);
  return mod.default ?? mod;
}

async function throughput(name, n, conc, send, version, maxSecs, callers = conc) {
  await Promise.all(Array.from({ length: conc }, () => send())); // warm-up
  const lat = [];
  let next = 0;
  let ok = 0;
  let errors = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(maxSecs * 1e9));
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < n && process.hrtime.bigint() < deadline) {
        next++;
        const t = process.hrtime.bigint();
        let good = false;
        try {
          good = await send();
        } catch {
          good = false;
        }
        lat.push(Number(process.hrtime.bigint() - t));
        if (good) ok++;
        else errors++;
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  lat.sort((x, y) => x - y);
  const rps = ok / secs;
  process.stderr.write(`peer ${name.padStart(28)} conc ${conc}: ${rps.toFixed(0).padStart(9)} req/s, errors ${errors}\n`);
  console.log(
    JSON.stringify({
      bench: 'peer_throughput', impl: name, runtime: 'node', concurrency: conc, requests: ok + errors, ok, errors, secs, rps,
      p50_us: pct(lat, 0.5) / 1e3, p99_us: pct(lat, 0.99) / 1e3, version, loadavg: loadavg(),
    }),
  );
}

async function precisionLoop(total, conc, send) {
  let left = total;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (left > 0) {
        left--;
        await send();
      }
    }),
  );
}

async function main() {
  const version = `Node ${process.version}, fetch (undici)`;
  if (mode === 'bare' || mode === 'limited' || mode === 'binding') {
    const n = Number(a);
    const conc = Number(b);
    const maxSecs = c === undefined ? 5 : Number(c);
    if (mode === 'bare') {
      await throughput('node-fetch', n, conc, () => get(`${url}/`), version, maxSecs);
    } else if (mode === 'limited') {
      const limiter = new Bottleneck({ maxConcurrent: conc });
      await throughput('node-fetch+bottleneck', n, conc, () => limiter.schedule(() => get(`${url}/`)), version + ', Bottleneck 2.19.5', maxSecs);
    } else {
      const rlc = await loadBinding();
      const client = new rlc.Client({ baseUrl: url, workers: conc, maxQueueSize: n + 1024 });
      const send = async () => (await client.request('GET', '/')).status === 200;
      // conc workers in flight; 4x as many callers keep its queue fed, as for Rust and C.
      await throughput('node-rlc-binding', n, conc, send, `Node ${process.version}, rlc binding`, maxSecs, conc * 4);
      await client.close();
    }
    return;
  }
  const rate = Number(a);
  const secs = Number(b);
  const conc = Number(c);
  const total = 1 + Math.floor(rate * secs) + Math.max(20, Math.floor(rate * 0.3));
  if (mode === 'precision') {
    const limiter = new Bottleneck({ minTime: 1000 / rate, maxConcurrent: conc });
    await precisionLoop(total, conc, () => limiter.schedule(() => get(`${url}/p`)));
  } else if (mode === 'binding-precision') {
    const rlc = await loadBinding();
    const client = new rlc.Client({
      baseUrl: url, workers: conc, maxQueueSize: total + 16,
      rateLimit: { max: rate, windowMs: 1000, burst: 1 },
    });
    await precisionLoop(total, total, () => client.request('GET', '/p'));
    await client.close();
  } else {
    process.stderr.write('usage: see the top of bench.mjs\n');
    process.exit(2);
  }
}

await main();
